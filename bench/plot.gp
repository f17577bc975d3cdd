# Time vs loss and time vs N, Discus against udpcast.
# gnuplot -e "dir='bench/out/full'; out='bench/full-plot.png'; title='...'" bench/plot.gp
set terminal pngcairo size 1200,500 font ",10"
set output out
set datafile missing "NaN"
set multiplot layout 1,2 title title
set grid
set key top left
set ylabel "seconds until every receiver is done"
set xlabel "loss on every receiver (%)"
set title "time vs loss: (b) used ext4, N = 3, MTU 1500"
set yrange [0:*]
plot dir.'/loss.dat' using 1:2 with linespoints lw 2 title "udpcast tuned", \
     ''              using 1:3 with linespoints lw 2 title "udpcast tuned + zstd pipe", \
     ''              using 1:4 with linespoints lw 2 title "Discus (mcimage image)", \
     ''              using 1:5 with linespoints lw 2 title "Discus (raw disk, fs-aware on the fly)"
set xlabel "receivers N"
set title "time vs N: (b) used ext4 ".nmib." MiB, MTU 1500, 0 % loss"
set logscale x 2
plot dir.'/n.dat' using 1:2 with linespoints lw 2 title "udpcast tuned", \
     ''           using 1:4 with linespoints lw 2 title "Discus (mcimage image)", \
     ''           using 1:5 with linespoints lw 2 title "Discus (raw disk, fs-aware on the fly)"
unset multiplot
