"""libconfig text for var/millrace.conf: render() writes settings from Python values, and
top_level_names() lists the settings a piece of hand-written text (MR_CONF_EXTRA) defines at
its top level, so that the generator can leave those out (libconfig refuses duplicates)."""

INDENT = "  "


def _value(v, depth):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    if isinstance(v, list) and v and all(isinstance(x, tuple) for x in v):
        inner = "".join(INDENT * (depth + 1) + _setting(k, x, depth + 1) for k, x in v)
        return "{\n%s%s}" % (inner, INDENT * depth)
    if isinstance(v, list):  # an array: scalars of one type
        return "[ %s ]" % ", ".join(_value(x, depth) for x in v)
    raise TypeError("no libconfig form for %r" % (v,))


def _setting(name, v, depth):
    return "%s = %s;\n" % (name, _value(v, depth))


def render(settings):
    """libconfig text for settings: a list of (name, value); a value is a str, int, bool, a
    list of scalars (an array) or a list of (name, value) pairs (a group)."""
    return "".join(_setting(k, v, 0) for k, v in settings)


def top_level_names(text):
    """The names of the settings text defines outside any group, list or array. Strings and
    the three comment forms are skipped, so a `user =` inside "..." or after # is no setting."""
    names, depth, i, n = set(), 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
        elif c == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif c in "{[(":
            depth, i = depth + 1, i + 1
        elif c in "}])":
            depth, i = max(depth - 1, 0), i + 1
        elif c.isalpha() or c == "*":
            j = i
            while j < n and (text[j].isalnum() or text[j] in "_-*"):
                j += 1
            k = j
            while k < n and text[k] in " \t\r\n":
                k += 1
            if depth == 0 and k < n and text[k] in "=:":
                names.add(text[i:j])
            i = j
        else:
            i += 1
    return names
