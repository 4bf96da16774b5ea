#!/usr/bin/env bash
# tq report: HTML pages from tq-report/1 documents, rendered in headless
# Chromium (charts drawn, no script errors, no network), and the errors for
# bad documents, a missing Chart.js and failed writes.
# Usage: report.sh PATH_TO_TQ
# Needs Debian's chromium and libjs-chart.js (scripts/setup.sh installs
# both); without chromium the test fails unless TQ_SKIP_BROWSER=1 is set.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
tq_cli_init "$@"
tq_cli_keep_going
src=$source_dir
sample=$src/tests/data/report-sample.json
chartjs=/usr/share/javascript/chart.js/chart.min.js
cd "$tmp"

if [[ ! -r $chartjs && -z ${TQ_CHARTJS:-} ]]; then
  echo "FAIL: $chartjs is missing: install libjs-chart.js (scripts/setup.sh)" >&2
  exit 1
fi

# ---- help ----------------------------------------------------------------------
run 0 report --help
contains "$out" "usage: tq report IN.json -o OUT.html"
contains "$out" "examples:"
contains "$out" "--chartjs PATH"
run 0 help report
contains "$out" "usage: tq report"
run 0 help
contains "$out" "report"

# ---- the sample: a page with everything inside it ------------------------------------
run 0 report "$sample" -o sample.html
contains "$out" "wrote sample.html"
[[ -s sample.html ]] || fail "sample.html was not written"
html=$(<sample.html)
contains "$html" "Chart.js v3.9.1"
contains "$html" '<script type="application/json" id="tq-report-data">'
contains "$html" "<title>Quantization of lenet-fashion-mnist.onnx (sample report)</title>"
# Nothing is loaded from elsewhere: no external src/href/url(), and the
# Content-Security-Policy forbids fetching anything.
if grep -Eiq '(src|href)[[:space:]]*=[[:space:]]*["'\'']?[[:space:]]*(https?:)?//' sample.html; then
  fail "sample.html references an external resource: $(grep -Eio '(src|href)=.{0,60}' sample.html | head -3)"
fi
if grep -Eiq 'url\([[:space:]]*["'\'']?(https?:)?//' sample.html; then
  fail "sample.html has a CSS url() to elsewhere"
fi
contains "$html" "default-src 'none'"
# Exactly three <script> elements: data, Chart.js, the page's own.
n_script=$(grep -o '<script' sample.html | wc -l)
[[ $n_script == 3 ]] || fail "expected 3 <script> tags, found $n_script"
n_end=$(grep -oi '</script' sample.html | wc -l)
[[ $n_end == 3 ]] || fail "expected 3 </script> tags, found $n_end"

# The same with the Chart.js path from TQ_CHARTJS, and from standard input.
TQ_CHARTJS=$chartjs run 0 report "$sample" -o env.html
cmp -s sample.html env.html || fail "TQ_CHARTJS=$chartjs gave a different page"
run 0 report - -o stdin.html <"$sample"
cmp -s sample.html stdin.html || fail "reading the sample from stdin gave a different page"
run 0 report --check "$sample"
contains "$out" "a valid tq-report/1 document"

# ---- documents for the browser checks ------------------------------------------
# Layer names and a title that try to break out of the embedded data.
evil='</script><script>alert(1)</script><!--'
cat >evil.json <<EOF
{"schema": "tq-report/1", "command": "sensitivity",
 "title": "<b>bold</b> & \"quoted\" $evil",
 "float": {"top1": 0.9},
 "sensitivity": [
  {"rank": 1, "layer": "$evil", "what": "extr", "spec": "nearest,4,2", "delta_top1": -3.5, "sqnr_db": 9.1},
  {"rank": 2, "layer": "LeNet/Gemm1", "what": "extr", "spec": "nearest,4,2", "delta_top1": -0.5, "sqnr_db": null}],
 "stats": {"layers": [{"layer": "$evil", "kind": "weight", "count": 4, "min": -1, "max": 1,
   "histogram": {"edges": [-1, 0, 1], "counts": [2, 2]}}]}}
EOF
run 0 report evil.json -o evil.html
evil_html=$(<evil.html)
lacks "$evil_html" "<script>alert"
lacks "$evil_html" "<!--"
contains "$evil_html" '\u003c/script\u003e\u003cscript\u003ealert(1)'
contains "$evil_html" "<title>&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;"
n_script=$(grep -o '<script' evil.html | wc -l)
[[ $n_script == 3 ]] || fail "evil.html: expected 3 <script> tags, found $n_script"

# Results without word widths: a bar chart per configuration.
cat >nobits.json <<'EOF'
{"schema": "tq-report/1", "command": "sweep", "float": {"top1": 0.9104},
 "results": [
  {"what": "extr", "layers": "*", "spec": "fp16", "bits": null, "top1": 0.9104, "delta_top1": 0.0, "sqnr_db": 61.2},
  {"what": "extr", "layers": "*", "spec": "bfloat16", "bits": null, "top1": 0.9101, "delta_top1": -0.03, "sqnr_db": 40.0},
  {"what": "extr", "layers": "*", "spec": "float(4,3)", "top1": 0.8893, "delta_top1": -2.11}]}
EOF
run 0 report nobits.json -o nobits.html

# Most fields missing: the page shows what there is. Charts: top-1 against
# bits (no SQNR anywhere), sensitivity, the log2 histogram (no search chart:
# no layers, no plottable trace step; no chart for a tensor without
# histograms).
cat >sparse.json <<'EOF'
{"schema": "tq-report/1", "command": "sweep",
 "results": [{"what": "extr", "bits": 8, "top1": 0.9}, {"what": "extr", "bits": 4}, {"bits": null}],
 "sensitivity": [{"layer": "a"}, {"layer": "b", "delta_top1": -1}],
 "search": {"met": false, "trace": [{"note": "x"}]},
 "stats": {"layers": [{"layer": "w", "log2_histogram": {"exponents": [-3, -2], "counts": [5, 7]}},
                      {"layer": "nohist"}]}}
EOF
run 0 report sparse.json -o sparse.html

# Only the required fields: a page that says there is nothing to show.
printf '{"schema": "tq-report/1", "command": "stats"}' >empty.json
run 0 report empty.json -o empty.html

# A "Chart.js" that is not: the page must show the error, not fail silently.
printf '/* not Chart.js */ var Chart = 1;\n' >fake-chart.js
run 0 report "$sample" -o broken.html --chartjs fake-chart.js

# ---- rendering in headless Chromium ----------------------------------------------
source "$here/lib/browser.sh"

if [[ ${TQ_SKIP_BROWSER:-} == 1 ]]; then
  echo "NOTE: TQ_SKIP_BROWSER=1: skipping the rendering checks in Chromium"
elif ! tq_browser_find; then
  fail "$TQ_BROWSER_WHY"
else
  # Sample: results (top-1 and SQNR against bits) 2, sensitivity 1, search
  # (bits per layer, trace) 2, stats (one histogram per tensor) 3.
  tq_check_page sample 8
  dom=$(<sample.dom)
  contains "$dom" "<h1>Quantization of lenet-fashion-mnist.onnx (sample report)</h1>"
  contains "$dom" "91.04 %"    # float top-1 in the header
  contains "$dom" "-25.83 pp"  # a sweep row and the top sensitivity row
  contains "$dom" "<h2>Sensitivity</h2>"
  contains "$dom" "<h2>Bit-width search</h2>"
  contains "$dom" "<h2>Value statistics</h2>"
  contains "$dom" "nearest,7,6" # a chosen format
  contains "$dom" "6.92×"       # compression
  contains "$dom" "∞"           # a null SQNR is infinite
  n_canvas=$(grep -o '<canvas' sample.dom | wc -l)
  [[ $n_canvas == 8 ]] || fail "sample.html: $n_canvas canvases, expected 8"

  # Interaction: sorting a table by a heading and switching a histogram to
  # log2 bins. A script added to a copy of the page clicks and reports.
  sed 's|</body>|<script>try {\
    var b = document.body, th = document.querySelectorAll("section")[0].querySelectorAll("th");\
    th[8].click(); th[8].click();\
    b.dataset.first = document.querySelector("section tbody td:nth-child(4)").textContent;\
    b.dataset.sorted = th[8].className;\
    document.querySelectorAll(".toggle button")[1].click();\
    b.dataset.label = Chart.getChart(document.querySelector(".cell canvas")).data.labels[0];\
  } catch (e) { document.body.dataset.clickerror = e.message; }</script></body>|' sample.html >click.html
  tq_check_page click 8
  # SQNR descending: the infinite one (weights at 16 bits) first.
  [[ $(tq_body_attr click.dom first) == 16 && $(tq_body_attr click.dom sorted) == "num sorted-desc" ]] ||
    fail "sorting by SQNR: first row has $(tq_body_attr click.dom first) bits, heading '$(tq_body_attr click.dom sorted)'"
  [[ $(tq_body_attr click.dom label) == 0 ]] ||
    fail "log2 histogram: first label '$(tq_body_attr click.dom label)', expected 0 (the zeros)"
  [[ -z $(tq_body_attr click.dom clickerror) ]] || fail "interaction: $(tq_body_attr click.dom clickerror)"

  # The hostile names are shown as text and break nothing.
  tq_check_page evil 2
  dom=$(<evil.dom)
  contains "$dom" "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;!--"
  lacks "$dom" "<b>bold</b>"

  tq_check_page nobits 1
  contains "$(<nobits.dom)" "Top-1 accuracy per configuration"
  tq_check_page sparse 3
  contains "$(<sparse.dom)" "no histogram"
  tq_check_page empty 0
  contains "$(<empty.dom)" "No results"

  # A script error is reported in the page and on <body>.
  tq_render broken
  [[ $(tq_body_attr broken.dom error) == "Chart.js did not load" ]] ||
    fail "broken.html: data-error is '$(tq_body_attr broken.dom error)'"
  [[ -z $(tq_body_attr broken.dom ready) ]] || fail "broken.html: data-ready set despite the error"
  contains "$(<broken.dom)" "This report could not be drawn: Chart.js did not load"
fi

# ---- bad documents --------------------------------------------------------------
printf '{"schema": "tq-report/1",\n  "command": }\n' >bad.json
run 1 report bad.json -o bad.html
contains "$err" "bad.json:2:14: invalid JSON: unexpected token near '}'"
[[ ! -e bad.html ]] || fail "a malformed document left bad.html"

printf '{"schema": "tq-report/2", "command": "sweep"}' >schema2.json
run 1 report schema2.json -o x.html
contains "$err" 'schema2.json: unsupported report schema "tq-report/2" (expected "tq-report/1")'

printf '{"command": "sweep"}' >noschema.json
run 1 report noschema.json -o x.html
contains "$err" '"schema" is missing'

printf '{"schema": "tq-report/1"}' >nocommand.json
run 1 report nocommand.json -o x.html
contains "$err" '"command" is missing'

printf '[1, 2]' >array.json
run 1 report array.json -o x.html
contains "$err" "expected a JSON object"

printf '{"schema": "tq-report/1", "command": "sweep", "results": [{"top1": 0.5}, {"top1": "high"}]}' >type.json
run 1 report type.json -o x.html
contains "$err" "type.json: results[1].top1: expected a number or null, got a string"

printf '{"schema": "tq-report/1", "command": "stats", "stats": {"layers": [{"layer": "a", "histogram": {"edges": [0, 1], "counts": [1, 2]}}]}}' >hist.json
run 1 report hist.json -o x.html
contains "$err" "stats.layers[0].histogram: 2 counts need 3 edges, got 2"

printf '{"schema": "tq-report/1", "command": "search", "search": {"met": "yes"}}' >met.json
run 1 report met.json -o x.html
contains "$err" "search.met: expected a boolean, got a string"

run 1 report --check type.json
contains "$err" "results[1].top1"

run 1 report no/such/file.json -o x.html
contains "$err" "cannot open 'no/such/file.json': No such file or directory"
[[ ! -e x.html ]] || fail "failed runs left x.html"

# ---- Chart.js missing or unusable ------------------------------------------------
run 1 report "$sample" -o x.html --chartjs "$tmp/no-chart.js"
contains "$err" "no-chart.js: cannot read Chart.js (No such file or directory): install Debian's libjs-chart.js"
TQ_CHARTJS=$tmp/no-chart.js run 1 report "$sample" -o x.html
contains "$err" "install Debian's libjs-chart.js"
if [[ -r /usr/share/javascript/chart.js/chart.esm.js ]]; then
  run 1 report "$sample" -o x.html --chartjs /usr/share/javascript/chart.js/chart.esm.js
  contains "$err" "is an ES module build of Chart.js"
fi
printf 'console.log(1)' >notchart.js
run 1 report "$sample" -o x.html --chartjs notchart.js
contains "$err" "does not look like Chart.js"
printf 'var Chart = "</script>";' >endtag.js
run 1 report "$sample" -o x.html --chartjs endtag.js
contains "$err" "cannot be inlined"
[[ ! -e x.html ]] || fail "failed runs left x.html"

# ---- failed writes leave nothing behind --------------------------------------------
mkdir out
cp sample.html out/keep.html
# A failure before writing leaves an existing file as it was.
run 1 report bad.json -o out/keep.html
cmp -s sample.html out/keep.html || fail "a failed run changed out/keep.html"
# Into a directory that does not exist.
run 1 report "$sample" -o out/missing/r.html
contains "$err" "out/missing/r.html"
# A write that fails half-way (file size limit of 64 KiB, page of ~240 KiB):
# no partial page and no temporary file.
status=0
(
  trap '' XFSZ
  ulimit -f 64
  exec "$TQ" report "$sample" -o out/big.html
) >stdout.txt 2>stderr.txt || status=$?
[[ $status == 1 ]] || fail "the write past the file size limit exited with $status, expected 1: $(<stderr.txt)"
contains "$(<stderr.txt)" "out/big.html"
leftover=$(cd out && ls -A | grep -v '^keep.html$' || true)
[[ -z $leftover ]] || fail "a failed write left files behind: $leftover"

# ---- usage errors: exit status 2 ---------------------------------------------------
run 2 report
contains "$err" "missing IN.json"
run 2 report "$sample"
contains "$err" "missing -o OUT.html"
run 2 report "$sample" -o
contains "$err" "-o needs a value"
run 2 report "$sample" -o x.html --frobnicate
contains "$err" "unexpected argument '--frobnicate'"
run 2 report a.json b.json -o x.html
contains "$err" "unexpected argument 'b.json'"

tq_cli_pass
