# Time vs loss and time vs N, Discus against udpcast.
# gnuplot -e "dir='bench/out/full/plot'; out='bench/full-plot.png'; nmib='512'; title='...'" bench/plot.gp
# Columns of loss.dat and n.dat: x udp-tuned udp-zstd discus discus-onfly discus-rate udp-patient
set terminal pngcairo size 1200,500 font ",10"
set output out
set datafile missing "NaN"
set style line 1 lc rgb "#d62728" lw 2 pt 7
set style line 2 lc rgb "#ff7f0e" lw 2 pt 5
set style line 3 lc rgb "#1f77b4" lw 2 pt 9
set style line 4 lc rgb "#2ca02c" lw 2 pt 11
set style line 5 lc rgb "#9467bd" lw 2 pt 13
set style line 6 lc rgb "#8c564b" lw 2 pt 3 dt 2
set multiplot layout 1,2 title title
set grid
set key top right
set ylabel "seconds until every receiver is done"
set xlabel "loss on every receiver (%)"
set title "time vs loss: (b) used ext4, N = 3, MTU 1500 (no point: a receiver ended wrong)"
set yrange [0:*]
set xrange [-0.2:5.2]
plot dir.'/loss.dat' using 1:2 with linespoints ls 1 title "udpcast tuned", \
     ''              using 1:3 with linespoints ls 2 title "udpcast tuned + zstd pipe", \
     ''              using 1:4 with linespoints ls 3 title "Discus, mcimage image", \
     ''              using 1:5 with linespoints ls 4 title "Discus, raw disk (fs-aware)", \
     ''              using 1:6 with linespoints ls 5 title "Discus, image, fixed rate", \
     ''              using 1:7 with linespoints ls 6 title "udpcast tuned, --retries-until-drop 100000"
set xlabel "receivers N"
set key top left
set title "time vs N: (b) used ext4 ".nmib." MiB, MTU 1500, 0 % loss"
set logscale x 2
set xrange [0.8:20]
set xtics (1, 3, 8, 16)
plot dir.'/n.dat' using 1:2 with linespoints ls 1 title "udpcast tuned", \
     ''           using 1:4 with linespoints ls 3 title "Discus, mcimage image", \
     ''           using 1:5 with linespoints ls 4 title "Discus, raw disk (fs-aware)"
unset multiplot
