#!/usr/bin/env bash
# Draws the timeline `fpusim run --perfetto` writes as an SVG, for documents
# where ui.perfetto.dev cannot be opened: per CPU a row of context runs (the
# context's name on its slice), a row of FP/SIMD operations (saves, loads,
# traps, register writes, each a box as long as its cost, coloured by kind,
# labelled with its operation and context) and, for each of the
# architecture's trap controls whose value changes, a step line; a vCPU's
# guest runs show inside its thread's run. Via jq and
# gnuplot (Debian: jq, gnuplot-nox).
#
#   scripts/plot_timeline.sh TRACE.json OUT.svg [TITLE]    (OUT.png: a PNG)
set -euo pipefail

die() {
  echo "plot_timeline: $*" >&2
  exit 2
}
[ $# -ge 2 ] && [ $# -le 3 ] || die "usage: scripts/plot_timeline.sh TRACE.json OUT.svg [TITLE]"
trace=$1
out=$2
command -v jq >/dev/null || die "jq not found (Debian: apt-get install jq)"
command -v gnuplot >/dev/null || die "gnuplot not found (Debian: apt-get install gnuplot-nox)"
[ -f "$trace" ] || die "$trace: no such file"
jq -e '.traceEvents | type == "array"' "$trace" >/dev/null 2>&1 || die "$trace: not an fpusim --perfetto trace"
title=${3:-$(jq -r '[.traceEvents[] | select(.ph == "M" and .name == "process_name")][0].args.name // "timeline"' "$trace")}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Rows from the top: for CPU n, its run row, its operations row and one row
# per changing control. Each row is a y band of height 1.
jq -r '
  def tracks: [.traceEvents[] | select(.ph == "M" and .name == "thread_name") | {tid, name: .args.name}];
  def esc: gsub("\""; "");
  (.traceEvents | map(select(.ph == "X" or .ph == "B" or .ph == "E" or .ph == "C"))) as $ev
  | (tracks) as $t
  | ($ev | map(select(.ph == "C")) | group_by(.name)
       | map(select((map(.args | to_entries[0].value) | unique | length) > 1)) | map(.[0].name)) as $controls
  | ($t | map(select(.name | test(" fpu$") | not)) | map(.name)) as $cpus
  # row numbers: cpu k -> run 3k*, ops, controls
  | [ $cpus[] as $c | [$c, "run"], [$c, "fpu"], ($controls[] | select(startswith($c + " ")) | [$c, .]) ] as $rows
  | ($rows | length) as $n
  | def row($c; $k): ($rows | index([[$c, $k]])) as $i | ($n - 1 - $i);
    "ROWS\t" + ($rows | map(if .[1] == "run" then .[0] elif .[1] == "fpu" then .[0] + " FP ops" else .[1] end) | join("\t")),
    # run slices: begins and ends per tid, paired (nested guest runs) below
    ( $t[] | select(.name | test(" fpu$") | not) | .tid as $tid | .name as $c
      | $ev[] | select((.ph == "B" or .ph == "E") and .tid == $tid)
      | "\(.ph)\t\(row($c; "run"))\t\(.ts)\t\(.name // "" | esc)"),
    # operation slices
    ( $t[] | select(.name | test(" fpu$")) | .tid as $tid | (.name | sub(" fpu$"; "")) as $c
      | $ev[] | select(.ph == "X" and .tid == $tid)
      | "OP\t\(row($c; "fpu"))\t\(.ts)\t\(.ts + .dur)\t\(.cat)\t\(.args.context // "" | esc)"),
    # control steps
    ( $controls[] as $name | ($name | split(" ")[0]) as $c
      | $ev[] | select(.ph == "C" and .name == $name)
      | "CTL\t\(row($c; $name))\t\(.ts)\t\(.args | to_entries[0].value)")
' "$trace" >"$tmp/rows.tsv" || die "$trace: could not read its events"

end=$(jq '[.traceEvents[] | select(.ts != null) | (.ts + (.dur // 0))] | max' "$trace")
awk -F'\t' -v end="$end" -v dir="$tmp" '
  function kind(cat) {  # colour by what the operation is
    if (cat ~ /trap/) return 14034728        # 0xd62728
    if (cat ~ /save/) return 2062260         # 0x1f77b4
    if (cat ~ /load|restore/) return 2924588 # 0x2ca02c
    return 8355711                           # 0x7f7f7f
  }
  $1 == "ROWS" { n = NF - 1; for (i = 2; i <= NF; ++i) label[n - i + 1] = $i; next }
  # A run slice ends at its E; a slice inside another (a vCPU thread'"'"'s guest
  # run) is drawn narrower, inside its parent.
  $1 == "B" { d = depth[$2]++; start[$2, d] = $3; name[$2, d] = $4; next }
  $1 == "E" {
    d = --depth[$2]
    h = d ? 0.18 : 0.3
    printf "%s %s %s %s %s %s %d\n", (start[$2, d] + $3) / 2, $2, start[$2, d], $3, $2 - h, $2 + h, d > (dir "/run.dat")
    printf "%s %s \"%s\"\n", (start[$2, d] + $3) / 2, $2 + (d ? 0 : 0.22), name[$2, d] > (dir "/runlabel.dat")
    next
  }
  $1 == "OP" {
    # At least 1/250 of the time axis wide, so that every operation shows.
    e = $4 - $3 < end / 250 ? $3 + end / 250 : $4
    printf "%s %s %s %s %d\n", ($3 + e) / 2, $2, $3, e, kind($5) > (dir "/op.dat")
    # Labels for the operations long enough to carry one; the rest are
    # told apart by colour.
    if ($4 - $3 >= end / 40) printf "%s %s \"%s %s\"\n", ($3 + $4) / 2, $2, $5, $6 > (dir "/oplabel.dat")
  }
  $1 == "CTL" {  # a step line in the row: low = 0, high = non-zero
    y = $2 - 0.3 + 0.6 * ($4 > 0)
    if ($2 in last) printf "%s %s\n", $3, last[$2] >> (dir "/ctl" $2 ".dat")
    printf "%s %s\n", $3, y >> (dir "/ctl" $2 ".dat")
    last[$2] = y
  }
  END {
    for (r in last) printf "%s %s\n", end, last[r] >> (dir "/ctl" r ".dat")
    printf "set ytics (" > (dir "/ytics.gp")
    for (i = 0; i < n; ++i) printf "%s\"%s\" %d", (i ? ", " : ""), label[i], i > (dir "/ytics.gp")
    printf ")\nset yrange [-0.7:%f]\n", n - 0.3 > (dir "/ytics.gp")
    printf "ctl_rows = \"" > (dir "/ctl.gp"); for (r in last) printf "%s ", r > (dir "/ctl.gp"); printf "\"\n" > (dir "/ctl.gp")
  }' "$tmp/rows.tsv"
touch "$tmp/run.dat" "$tmp/runlabel.dat" "$tmp/op.dat" "$tmp/oplabel.dat"
sort -s -k7,7n "$tmp/run.dat" -o "$tmp/run.dat"  # parents first, nested runs drawn over them
rows=$(head -n 1 "$tmp/rows.tsv" | awk -F'\t' '{ print NF - 1 }')
height=$((150 + 70 * rows))
term="svg size 1100,$height font \"sans,10\" background rgb \"white\""
[[ $out == *.png ]] && term="pngcairo size 1100,$height font \"sans,10\" background rgb \"white\""
gnuplot <<GP || die "gnuplot failed"
set terminal $term
set output "$out"
set termoption noenhanced
set title "$title"
set xlabel "simulated time (µs)"
set grid xtics
set key outside bottom center horizontal
load "$tmp/ytics.gp"
load "$tmp/ctl.gp"
set style fill solid 0.8 border rgb "black"
plot "$tmp/run.dat" using 1:2:3:4:5:6:(\$7 > 0 ? 16759672 : 14408589) with boxxyerror lc rgb variable notitle, \
     "$tmp/runlabel.dat" using 1:2:3 with labels font "sans,9" notitle, \
     "$tmp/op.dat" using 1:2:3:4:(\$2-0.3):(\$2+0.3):5 with boxxyerror lc rgb variable notitle, \
     "$tmp/oplabel.dat" using 1:(\$2+0.42):3 with labels font "sans,8" notitle, \
     for [r in ctl_rows] "$tmp/ctl".r.".dat" using 1:2 with lines lw 2 lc rgb "0x9467bd" notitle, \
     NaN with boxes lc rgb "0xd62728" title "trap", NaN with boxes lc rgb "0x1f77b4" title "save", \
     NaN with boxes lc rgb "0x2ca02c" title "load", NaN with boxes lc rgb "0x7f7f7f" title "other (register writes, copies)"
GP
echo "plot_timeline: wrote $out"
