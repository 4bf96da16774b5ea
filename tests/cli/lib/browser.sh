# Shell helpers for tests that open HTML reports in headless Chromium.
# Source it after defining fail() and setting $tmp (an absolute scratch
# directory the reports live in); it is not a test itself.
#
#   source "$here/lib/browser.sh"
#   tq_browser_find || fail "$TQ_BROWSER_WHY"   # sets TQ_BROWSER
#   tq_check_page NAME CHARTS                   # $tmp/NAME.html
#
# tq_check_page renders the page with the network cut off and fails (via
# fail) unless the page finished drawing: data-ready="1" on <body>,
# data-charts equal to CHARTS (or at least CHARTS when it is written "N+"),
# no data-error, no JavaScript console line, and no request besides the
# file itself.

TQ_BROWSER=""
TQ_BROWSER_WHY=""

tq_browser_find() {
  local b
  for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then
      TQ_BROWSER=$(command -v "$b")
      return 0
    fi
  done
  TQ_BROWSER_WHY="no chromium to render the reports in: install chromium (scripts/setup.sh), or set TQ_SKIP_BROWSER=1 to skip these checks"
  return 1
}

# tq_body_attr DOM NAME: the value of data-NAME on <body> ("" when absent).
tq_body_attr() {
  local body
  body=$(grep -o '<body[^>]*>' "$1" | head -1)
  if [[ $body =~ data-$2=\"([^\"]*)\" ]]; then
    echo "${BASH_REMATCH[1]}"
  fi
}

# tq_render NAME: loads $tmp/NAME.html; leaves the final DOM in
# $tmp/NAME.dom, the browser's log in $tmp/NAME.log and its network log in
# $tmp/NAME.net.
tq_render() {
  local name=$1 status=0
  timeout 120 "$TQ_BROWSER" --headless --no-sandbox --disable-gpu \
    --user-data-dir="$tmp/profile-$name" --no-first-run \
    --disable-background-networking --disable-component-update \
    --disable-sync --disable-default-apps \
    --host-resolver-rules="MAP * ~NOTFOUND" \
    --log-net-log="$tmp/$name.net" \
    --enable-logging=stderr --v=0 --virtual-time-budget=5000 \
    --dump-dom "file://$tmp/$name.html" >"$tmp/$name.dom" 2>"$tmp/$name.log" || status=$?
  if [[ $status != 0 ]]; then
    fail "chromium exited with $status on $name.html: $(tail -5 "$tmp/$name.log")"
  fi
}

tq_check_page() {
  local name=$1 want=$2
  tq_render "$name"
  local ready charts error
  ready=$(tq_body_attr "$tmp/$name.dom" ready)
  charts=$(tq_body_attr "$tmp/$name.dom" charts)
  error=$(tq_body_attr "$tmp/$name.dom" error)
  [[ $ready == 1 ]] || fail "$name.html: data-ready is '$ready', expected 1 (error: '$error')"
  if [[ $want == *+ ]]; then
    [[ $charts =~ ^[0-9]+$ && $charts -ge ${want%+} ]] ||
      fail "$name.html: data-charts is '$charts', expected at least ${want%+}"
  else
    [[ $charts == "$want" ]] || fail "$name.html: data-charts is '$charts', expected $want"
  fi
  [[ -z $error ]] || fail "$name.html: data-error '$error'"
  if grep -q 'CONSOLE' "$tmp/$name.log"; then
    fail "$name.html: JavaScript console output: $(grep 'CONSOLE' "$tmp/$name.log" | head -5)"
  fi
  # Every URL the page requested, except Chromium's own background services
  # (which --disable-background-networking does not silence entirely).
  local urls
  urls=$(grep -o '"url":"[^"]*"' "$tmp/$name.net" | sed 's/^"url":"//; s/"$//' | sort -u |
    grep -Ev '^https?://([a-z0-9-]+\.)*(google\.com|googleapis\.com|gvt1\.com)/' |
    grep -v "^file://$tmp/$name.html\$" || true)
  [[ -z $urls ]] || fail "$name.html requested: $urls"
}
