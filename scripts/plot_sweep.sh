#!/usr/bin/env bash
# Plots one statistic of a finished `fpusim sweep` against the grid's x
# parameter, one line per policy (per policy and combination of the other
# parameters, if the grid has several), and marks every crossover: where two
# policies' lines cross, found by linear interpolation between grid points,
# with a labelled point. SVG output, via gnuplot (Debian: gnuplot-nox).
#
#   scripts/plot_sweep.sh DIR [STAT] [OUT.svg]
#
# DIR is the sweep's -o directory (it reads DIR/results.csv and, for the
# title, the x parameter and the unit, DIR/results.json). STAT is a column of
# results.csv (`fpusim list stats`; default fpu_cycles). OUT defaults to
# DIR/STAT.svg. The crossovers are also printed on stdout. An x parameter
# with non-numeric values (e.g. machine.xsave_instruction) is plotted as
# categories in grid order.
set -euo pipefail

die() {
  echo "plot_sweep: $*" >&2
  exit 2
}

[ $# -ge 1 ] && [ $# -le 3 ] || die "usage: scripts/plot_sweep.sh DIR [STAT] [OUT.svg]"
dir=${1%/}
stat=${2:-fpu_cycles}
out=${3:-$dir/$stat.svg}
csv=$dir/results.csv
json=$dir/results.json
[ -f "$csv" ] || die "$csv: no such file (has \`fpusim sweep ... -o $dir\` finished?)"
[ -f "$json" ] || die "$json: no such file"
command -v gnuplot >/dev/null || die "gnuplot not found (Debian: apt-get install gnuplot-nox)"

# results.json is written by fpusim with two-space indentation: top-level keys
# are on lines of their own, indented by two spaces.
json_string() {
  sed -n "s/^  \"$1\": \"\\(.*\\)\",\\{0,1\\}\$/\\1/p" "$json" | head -n 1 | sed 's/\\"/"/g; s/\\\\/\\/g'
}
name=$(json_string name)
x=$(json_string x)
[ -n "$x" ] || die "$json: the sweep has no parameters, so nothing to put on the x axis"
# The parameters, in grid order: the lines of the top-level "parameters" array.
params=$(awk '/^  "parameters": \[\]/ { exit } /^  "parameters": \[/ { on = 1; next } on && /^  \]/ { exit }
              on { sub(/^ *"/, ""); sub(/",?$/, ""); print }' "$json" | paste -sd '\t' -)
unit=$(awk -v s="$stat" '$0 == "    \"" s "\": {" { on = 1; next }
                          on && /"unit"/ { sub(/^ *"unit": "/, ""); sub(/",?$/, ""); print; exit }' "$json")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/plot_sweep.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The data: awk reads the CSV (quoted fields allowed), groups rows into series
# and finds crossovers. It writes gnuplot datablocks and the plot command to
# $tmp/data.gp, the crossovers in words to $tmp/crossovers.txt.
awk -v xkey="$x" -v stat="$stat" -v params="$params" -v out="$tmp/data.gp" -v cross="$tmp/crossovers.txt" '
function csv_split(line, f,    n, i, c, q, cur) {
  n = 0; cur = ""; q = 0
  for (i = 1; i <= length(line); i++) {
    c = substr(line, i, 1)
    if (q) {
      if (c == "\"") { if (substr(line, i + 1, 1) == "\"") { cur = cur "\""; i++ } else q = 0 }
      else cur = cur c
    } else if (c == "\"") q = 1
    else if (c == ",") { f[++n] = cur; cur = "" }
    else cur = cur c
  }
  f[++n] = cur
  return n
}
function is_num(s) { return s ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
function gq(s) { gsub(/"/, "\\\"", s); return "\"" s "\"" }          # gnuplot data string
function sq(s) { gsub(/\047/, "\047\047", s); return "\047" s "\047" } # gnuplot single-quoted string
function fmt(v) { return (v == int(v) && v < 1e15 && v > -1e15) ? sprintf("%d", v) : sprintf("%.6g", v) }
BEGIN { np = split(params, P, "\t") }
NR == 1 {
  nc = csv_split($0, H)
  for (i = 1; i <= nc; i++) col[H[i]] = i
  if (!("policy" in col)) { print "plot_sweep: results.csv has no policy column" > "/dev/stderr"; err = 1; exit 2 }
  if (!(xkey in col)) { print "plot_sweep: results.csv has no column " xkey > "/dev/stderr"; err = 1; exit 2 }
  if (!(stat in col)) {
    msg = ""
    for (i = np + 3; i <= nc; i++) msg = msg (msg == "" ? "" : ", ") H[i]
    print "plot_sweep: no statistic \"" stat "\" in results.csv; columns: " msg > "/dev/stderr"; err = 1; exit 2
  }
  next
}
{
  csv_split($0, F)
  xv = F[col[xkey]]; yv = F[col[stat]]
  if (!is_num(yv)) { print "plot_sweep: line " NR ": " stat " is not a number: " yv > "/dev/stderr"; err = 1; exit 2 }
  if (!is_num(xv)) categorical = 1
  if (!(xv in xseen)) { xseen[xv] = ++nx; xorder[nx] = xv }
  group = ""
  for (k = 1; k <= np; k++) if (P[k] != xkey) group = group (group == "" ? "" : " ") P[k] "=" F[col[P[k]]]
  key = F[col["policy"]] SUBSEP group
  if (!(key in sid)) {
    sid[key] = ++ns; spol[ns] = F[col["policy"]]; sgroup[ns] = group; n[ns] = 0
  }
  s = sid[key]
  n[s]++; X[s, n[s]] = xv; Y[s, n[s]] = yv + 0
}
END {
  if (err) exit 2
  if (ns == 0) { print "plot_sweep: results.csv has no rows" > "/dev/stderr"; err = 1; exit 2 }
  # x positions: the values, or their index in grid order for categories.
  for (s = 1; s <= ns; s++) {
    for (i = 1; i <= n[s]; i++) PX[s, i] = categorical ? xseen[X[s, i]] : X[s, i] + 0
    for (i = 2; i <= n[s]; i++) {   # insertion sort by x
      px = PX[s, i]; xx = X[s, i]; yy = Y[s, i]
      for (j = i - 1; j >= 1 && PX[s, j] > px; j--) { PX[s, j + 1] = PX[s, j]; X[s, j + 1] = X[s, j]; Y[s, j + 1] = Y[s, j] }
      PX[s, j + 1] = px; X[s, j + 1] = xx; Y[s, j + 1] = yy
    }
  }
  printf "" > out
  for (s = 1; s <= ns; s++) {
    print "$s" s " << EOD" > out
    for (i = 1; i <= n[s]; i++) print PX[s, i], Y[s, i] > out
    print "EOD" > out
  }
  # Crossovers between two series of different policies with the same other
  # parameters: where d = y_a - y_b changes sign between neighbouring x.
  nx_ = 0
  printf "" > cross
  for (a = 1; a <= ns; a++) for (b = a + 1; b <= ns; b++) {
    if (sgroup[a] != sgroup[b] || spol[a] == spol[b]) continue
    split("", ya); split("", yb); m = 0
    for (i = 1; i <= n[a]; i++) ya[PX[a, i]] = Y[a, i]
    for (i = 1; i <= n[b]; i++) if (PX[b, i] in ya) { m++; cx[m] = PX[b, i]; d[m] = ya[PX[b, i]] - Y[b, i]; cy[m] = Y[b, i] }
    last = 0
    for (i = 1; i <= m; i++) {
      if (d[i] == 0) continue
      if (last && (d[last] > 0) != (d[i] > 0)) {
        if (i == last + 1) {   # linear interpolation between the two points
          t = d[last] / (d[last] - d[i])
          px = cx[last] + t * (cx[i] - cx[last]); py = cy[last] + t * (cy[i] - cy[last])
        } else {               # equal at the grid point(s) in between
          px = cx[last + 1]; py = cy[last + 1]
        }
        who = spol[a] " = " spol[b]
        where = categorical ? "between " xorder[int(px)] " and " xorder[int(px) + 1] : "at " fmt(px)
        if (categorical && px == int(px)) where = "at " xorder[px]
        # One mark per place: lines crossing at the same point are all equal
        # there, so their names share one label ("a = b = c at x").
        if (!((px, py) in at)) {
          at[px, py] = ++ncross
          CX[ncross] = px; CY[ncross] = py; CW[ncross] = where; CN[ncross] = ""
        }
        c_ = at[px, py]
        if (!((c_, spol[a]) in named)) { named[c_, spol[a]] = 1; CN[c_] = CN[c_] (CN[c_] == "" ? "" : " = ") spol[a] }
        if (!((c_, spol[b]) in named)) { named[c_, spol[b]] = 1; CN[c_] = CN[c_] (CN[c_] == "" ? "" : " = ") spol[b] }
        CL[c_] = CN[c_] " " CW[c_]
        print who " at " xkey " " (where ~ /^at / ? "= " substr(where, 4) : where) " (" stat " " fmt(py) ")" (sgroup[a] == "" ? "" : " [" sgroup[a] "]") > cross
      }
      last = i
    }
  }
  if (ncross) {
    print "$cross << EOD" > out
    for (c = 1; c <= ncross; c++) print CX[c], CY[c], gq(CL[c]) > out
    print "EOD" > out
  }
  if (categorical) {
    tics = ""
    for (i = 1; i <= nx; i++) tics = tics (i > 1 ? ", " : "") sq(xorder[i]) " " i
    print "set xtics (" tics ")" > out
    print "set xrange [0.5:" nx + 0.5 "]" > out
  }
  plot = "plot"
  for (s = 1; s <= ns; s++) {
    plot = plot (s > 1 ? ", " : " ") "$s" s " using 1:2 with linespoints lw 2 pt " (s % 10 + 4) " ps 0.8 title " \
           sq(spol[s] (sgroup[s] == "" ? "" : " (" sgroup[s] ")"))
  }
  if (ncross) {
    plot = plot ", $cross using 1:2 with points pt 7 ps 1.6 lc rgb \"black\" title \"crossover\""
    plot = plot ", $cross using 1:2:3 with labels offset 0,1.3 font \",10\" tc rgb \"black\" notitle"
  }
  print plot > out
}' "$csv" || exit 2

sqg() { printf "'%s'" "${1//\'/\'\'}"; }   # gnuplot single-quoted string
ylabel=$stat
[ -n "$unit" ] && ylabel="$stat [$unit]"
{
  echo "set terminal svg size 960,600 dynamic font 'sans,12' background rgb 'white'"
  echo "set output $(sqg "$out")"
  echo "set termoption noenhanced"
  echo "set title $(sqg "${name:-sweep}: $stat against $x")"
  echo "set xlabel $(sqg "$x")"
  echo "set ylabel $(sqg "$ylabel")"
  echo "set grid"
  echo "set key outside right top"
  echo "set format y '%.4g'"
  echo "set autoscale xfix"
  echo "set offsets graph 0.03, graph 0.03, graph 0.08, graph 0.05"
  cat "$tmp/data.gp"
} >"$tmp/plot.gp"
gnuplot "$tmp/plot.gp" 2>"$tmp/gnuplot.err" || {
  cp "$tmp/plot.gp" "$out.gp"
  cat "$tmp/gnuplot.err" >&2
  die "gnuplot failed (its script is kept as $out.gp)"
}
if [ -s "$tmp/crossovers.txt" ]; then
  sed 's/^/crossover: /' "$tmp/crossovers.txt"
else
  echo "no crossovers"
fi
echo "plot_sweep: wrote $out" >&2
