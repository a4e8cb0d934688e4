# Shell helpers shared by the scripts (sourced, not run).

# Median of the numbers on stdin, one a line (mean of the middle two for
# an even count); prints nothing for no input.
median() { sort -g | awk '{v[NR]=$1} END {if (NR) print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
