# Heap RSS right after freeing 90% of 1 GiB of small objects, as a multiple of
# the floor (pages live objects still touch), per allocator.
# usage: gnuplot -c bench/alloc/plot_frag.gp DATA OUT.png
# DATA: one line per allocator: name oldest_ratio random_ratio
set terminal pngcairo size 800,420 font ",11"
set output ARG2
set title "Heap RSS right after freeing 90% of 1 GiB, as a multiple of the floor (lower is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [0:*]
set ylabel "RSS / floor"
set grid ytics
set key top right
plot ARG1 using 2:xtic(1) title "oldest 90% freed", '' using 3 title "random 90% freed"
