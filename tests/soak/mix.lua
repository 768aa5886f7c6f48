-- wrk script for the soak run: cycles through the endpoints. soak.py runs wrk in 10-second
-- chunks until the wanted number of requests is reached (wrk's thread:stop() stops sending
-- but not the clock), so every wrk run is bounded in time.
local paths = {
  "/plaintext", "/json", "/db", "/queries?queries=5", "/cached-queries?count=5",
  "/fortunes", "/updates?queries=2", "/json", "/cached-queries?count=20", "/plaintext",
}
local i = 0

request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
