# SPDX-License-Identifier: BSD-2-Clause
# The chart of `make bench` (scripts/bench-report.py calls it): clustered bars per endpoint,
# one colour per stack, error bars from the slowest to the fastest round. Log scale, because
# /plaintext and /updates?queries=20 lie a factor of ten apart and a linear axis would flatten
# the slow endpoints' bars, where the ratios matter most.
#
#   gnuplot -e "datafile='X.dat'; outfile='X.png'; nstacks=4; names='millrace php ...'; \
#               chart_title='...'" scripts/bench-chart.gp
# X.dat: a header line, then per endpoint: "path" and per stack median, min, max (NaN: none).
set terminal pngcairo size 1280,640 font "DejaVu Sans,10" noenhanced
set output outfile
set title chart_title
set datafile missing "NaN"
set key top right horizontal
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set bars front
set logscale y
set ylabel "requests per second (log scale)"
set grid ytics mytics
set xtics nomirror
set ytics nomirror
set yrange [100:*]
set key autotitle columnhead
plot for [i=0:nstacks-1] datafile using (column(2+3*i)):(column(3+3*i)):(column(4+3*i)):xtic(1) \
     title word(names, i+1)
