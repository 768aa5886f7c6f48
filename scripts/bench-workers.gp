# SPDX-License-Identifier: BSD-2-Clause
# The chart of `make bench-workers` (scripts/bench-workers.py calls it). Left: req/s against
# the pool size, one line per endpoint and nginx worker_processes, error bars from the
# slowest to the fastest pass. Right: the PSS of all the pool's workers against the pool size,
# and per worker on the right axis.
# Both x axes are log 2, since the sweep doubles (1 ... 32); the dashed line is today's
# default, 2 x cores + 1.
#
#   gnuplot -e "datafile='X.dat'; outfile='X.png'; nblocks=4; nnginx=2; \
#               names='/db,nginx=1 ...'; \
#               ngnames='nginx=1 nginx=2'; today=5; chart_title='...'" scripts/bench-workers.gp
# X.dat: one index block per name: workers, mean, min, max req/s, workers' PSS MiB, per worker.
set terminal pngcairo size 1400,560 font "DejaVu Sans,10" noenhanced
set output outfile
set multiplot layout 1,2 title chart_title
set logscale x 2
set xrange [0.8:40]
set xtics (1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32)
set xlabel "millrace workers (pm static)"
set grid
set arrow 1 from today, graph 0 to today, graph 1 nohead dashtype 2 lc rgb "#666666"
set label 1 "2 x cores + 1" at today, graph 0.97 offset 0.5,0 left tc rgb "#666666"
set key bottom right
set ylabel "requests per second"
set yrange [0:*]
plot for [i=0:nblocks-1] datafile index i using 1:2:3:4 with yerrorlines lw 2 pt 7 ps 0.8 \
     title word(names, i+1)
set key top left
set label 1 at today, graph 0.03
set ylabel "PSS of all workers (MiB)"
set y2label "PSS per worker (MiB)"
set y2range [0:*]
set y2tics
set ytics nomirror
plot for [i=0:nnginx-1] datafile index i using 1:5 with linespoints lw 2 pt 7 ps 0.8 \
     title "all workers, " . word(ngnames, i+1), \
     datafile index 0 using 1:6 axes x1y2 with linespoints lw 1 dt 3 pt 6 \
     title "per worker (right axis)"
unset multiplot
