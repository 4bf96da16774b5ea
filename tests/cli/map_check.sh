#!/usr/bin/env bash
# tq map check: output for valid maps, exit codes and messages for bad ones.
# Usage: map_check.sh PATH_TO_TQ
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
tq_cli_init "$@"
tq_cli_keep_going
cd "$tmp"

# The canonical form of a spec, as map check prints it for a spec string.
canonical() {
  run 0 map check "$1"
  echo "${out##*: }"
}

# ---- help ------------------------------------------------------------------
run 0 map --help
contains "$out" "usage: tq map check MAP"
contains "$out" "examples:"
contains "$out" "--weight NAME"
run 0 help map
contains "$out" "usage: tq map check MAP"

# ---- a spec string is a map for every layer ----------------------------------
run 0 map check nearest,8,4 --layer any/layer
contains "$out" "valid quantizer spec for every layer"
canon_n84=$(canonical nearest,8,4)
canon_fp16=$(canonical fp16)
canon_n168=$(canonical nearest,16,8)
[[ -n $canon_n84 && -n $canon_fp16 && -n $canon_n168 ]] || fail "no canonical specs"
run 0 map check nearest,8,4 --layer any/layer
contains "$out" "layer \"any/layer\""
contains "$out" "$canon_n84  <- key \"\" (entry 0), found in the layer ID"

# ---- flat map: first match in file order -------------------------------------
cat >flat.json <<'EOF'
{
  "Conv1": "nearest,8,4",
  "Block": "fp16",
  "re:^Net/Dense[0-9]+$": "nearest,16,8"
}
EOF
run 0 map check flat.json --layer Block/Conv1 --layer Block/Conv2 \
  --layer Net/Dense12 --layer Net/Dense12/Relu
contains "$out" "flat.json: valid flat map, checked as kind extrinsic"
contains "$out" "[extrinsic] 3 entries"
contains "$out" "0  \"Conv1\"                 $canon_n84"
contains "$out" "1  \"Block\"                 $canon_fp16"
contains "$out" "2  \"re:^Net/Dense[0-9]+\$\"  $canon_n168"
# Both "Conv1" and "Block" match Block/Conv1: the first written wins.
expected_layers="layer \"Block/Conv1\"
  extrinsic  $canon_n84  <- key \"Conv1\" (entry 0), found in the layer ID

layer \"Block/Conv2\"
  extrinsic  $canon_fp16  <- key \"Block\" (entry 1), found in the layer ID

layer \"Net/Dense12\"
  extrinsic  $canon_n168  <- key \"re:^Net/Dense[0-9]+\$\" (entry 2), found in the layer ID

layer \"Net/Dense12/Relu\"
  extrinsic  float (no key matches)"
contains "$out" "$expected_layers"

# A flat map is checked as the kind asked for.
run 0 map check flat.json --kind weights --layer Block/x
contains "$out" "checked as kind weights"
contains "$out" "[weights] 3 entries"
contains "$out" "  weights    $canon_fp16  <- key \"Block\" (entry 1)"
lacks "$out" "extrinsic"
lacks "$out" "absent"

# ---- sectioned map with weight names and intrinsic objects -------------------
cat >sections.json <<'EOF'
{
  "weights": {"layer1.0.conv1": "nearest,8,4", "": "nearest,16,8"},
  "extrinsic": {"Relu": "fp16"},
  "intrinsic": {
    "Conv": "nearest,8,4",
    "fc": {"product": "nearest,8,4", "accumulator": "nearest,16,8"},
    "Gemm": {"sum": "fp16"}
  }
}
EOF
run 0 map check sections.json --layer /layer1/layer1.0/conv1/Conv \
  --weight onnx::Conv_7 --weight layer1.0.conv1.weight --layer /fc/Gemm
contains "$out" "sections.json: valid sectioned map (extrinsic: 1 entry, weights: 2 entries, intrinsic: 3 entries)"
contains "$out" "[intrinsic] 3 entries"
contains "$out" "\"fc\"    product: $canon_n84; accumulator: $canon_n168"
contains "$out" "\"Gemm\"  product: exact; sum: $canon_fp16"
contains "$out" "layer \"/layer1/layer1.0/conv1/Conv\" (weights \"onnx::Conv_7\", \"layer1.0.conv1.weight\")"
contains "$out" "  extrinsic  float (no key matches)"
contains "$out" "  weights    $canon_n84  <- key \"layer1.0.conv1\" (entry 0), found in weight \"layer1.0.conv1.weight\""
contains "$out" "  intrinsic  $canon_n84  <- key \"Conv\" (entry 0), found in the layer ID"
contains "$out" "  weights    $canon_n168  <- key \"\" (entry 1), found in the layer ID"
contains "$out" "  intrinsic  product: $canon_n84; accumulator: $canon_n168  <- key \"fc\" (entry 1)"

# --kind picks one section of a sectioned map; an absent one stays float.
run 0 map check sections.json --kind weights --layer x
contains "$out" "[weights] 2 entries"
lacks "$out" "[intrinsic]"
run 0 map check sections.json --kind updates --layer x
contains "$out" "[updates] absent: every layer stays float"
contains "$out" "updates    float (the map has no updates section)"

# ---- JSON output -------------------------------------------------------------
run 0 map check sections.json --layer /fc/Gemm --weight fc.weight --json
contains "$out" "\"form\": \"sectioned\""
contains "$out" "\"via\": \"/fc/Gemm\""
if [[ -x /usr/bin/python3 ]]; then
  printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["map"] == "sections.json", d
assert [e["key"] for e in d["sections"]["intrinsic"]] == ["Conv", "fc", "Gemm"]
assert set(d["sections"]["intrinsic"][1]) == {"index", "key", "product", "accumulator"}
layer = d["layers"][0]
assert layer["layer"] == "/fc/Gemm" and layer["weights"] == ["fc.weight"]
assert layer["matches"]["extrinsic"] is None
assert layer["matches"]["intrinsic"]["entry"] == 1
assert layer["matches"]["intrinsic"]["key"] == "fc"
assert layer["matches"]["weights"]["key"] == ""
' || fail "JSON output does not have the expected content"
fi

# ---- invalid maps: exit status 1 and a message that says where ---------------
printf '{\n  "Conv1": "nearest,8,4",\n  "Dense" 1\n}\n' >syntax.json
run 1 map check syntax.json
contains "$err" "tq map: syntax.json:3:11: invalid JSON"
[[ -z $out ]] || fail "nothing may go to stdout for an invalid map"

printf '{"Conv1": "nearest,8,4", "LeNet/Dense": "nearest,8"}' >spec.json
run 1 map check spec.json
contains "$err" "spec.json: key 'LeNet/Dense': "
contains "$err" "nearest,8"

printf '{"extrinsic": {}, "weigths": {"Conv1": "fp16"}}' >section.json
run 1 map check section.json
contains "$err" "unknown section 'weigths' (did you mean \"weights\"?)"

printf '{"fc": {"product": "nearest,8,4", "sum": "fp16", "accumulator": "fp16"}}' >both.json
run 1 map check both.json --kind intrinsic
contains "$err" "key 'fc': "
contains "$err" "not both"

printf '{"fc": {"prodcut": "nearest,8,4"}}' >field.json
run 1 map check field.json --kind intrinsic
contains "$err" "did you mean \"product\"?"

# Intrinsic objects in a flat map checked as the default kind: a hint.
printf '{"fc": {"product": "nearest,8,4"}}' >objects.json
run 1 map check objects.json
contains "$err" "only allowed in intrinsic maps"
contains "$err" "--kind intrinsic"
run 0 map check objects.json --kind intrinsic

printf '{"re:conv(": "fp16"}' >regex.json
run 1 map check regex.json
contains "$err" "key 're:conv(': invalid regular expression"

printf '["nearest,8,4"]' >array.json
run 1 map check array.json
contains "$err" "got an array"

run 1 map check no/such/map.json
contains "$err" "'no/such/map.json' is neither a readable map file (No such file or directory) nor a valid quantizer spec"

# ---- usage errors: exit status 2 ---------------------------------------------
run 2 map
contains "$err" "missing subcommand"
run 2 map show flat.json
contains "$err" "unknown subcommand 'show'"
run 2 map check
contains "$err" "missing MAP"
run 2 map check flat.json --weight w
contains "$err" "--weight w must follow the --layer"
run 2 map check flat.json --layer
contains "$err" "--layer needs a value"
run 2 map check flat.json --kind bias
contains "$err" "--kind expects"
run 2 map check flat.json --frobnicate
contains "$err" "unknown option --frobnicate"
run 2 map check flat.json sections.json
contains "$err" "one MAP at a time"

tq_cli_pass
