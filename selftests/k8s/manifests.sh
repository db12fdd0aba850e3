#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The k8s/ manifests, offline: each kustomization renders with
# `kubectl kustomize`, the sources and the output pass yamllint, every
# object validates against the Kubernetes schemas (npm kubernetes-models),
# the ConfigMap's rcached.conf reads as rcached reads it (confcheck), and
# check_manifests.py finds what issue 7 asks of the DaemonSet and the Job.
# The schema check is strict (validate.js: unknown fields fail), and the
# broken manifests in broken/ must fail it.
#
#   manifests.sh install   npm ci the validators into build/k8s-node (needs
#                          the npm registry; deps.sh runs it)
#   manifests.sh [OUTDIR]  the checks; PASS:/FAIL: lines (k8s/manifests/...)
#
# The kustomizations use `bases` and `patchesStrategicMerge`, which newer
# kustomize calls deprecated but still reads, so that Debian 12's kubectl
# (1.20, kustomize 2.0) renders them too.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
node_dir=${RCACHE_K8S_NODE:-$top/build/k8s-node}
tools=${RCACHE_TOOLS:-$top/build/tools}

installed() {
	[ -f "$node_dir/node_modules/kubernetes-models/package.json" ] &&
		cmp -s "$here/npm/package-lock.json" "$node_dir/package-lock.json"
}

if [ "${1:-}" = install ]; then
	installed && exit 0
	command -v npm >/dev/null || { echo "manifests.sh: npm missing" >&2; exit 1; }
	mkdir -p "$node_dir"
	cp "$here/npm/package.json" "$here/npm/package-lock.json" "$node_dir/"
	(cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
		{ echo "manifests.sh: npm ci in $node_dir failed" >&2; exit 1; }
	exit 0
fi

out=${1:-$top/build/check/k8s-manifests}
rm -rf "$out"
mkdir -p "$out/rendered"
failed=0
pass() { echo "PASS: k8s/manifests/$1"; }
fail() {
	echo "FAIL: k8s/manifests/$1: $2"
	failed=1
}

# render
kusts=(base)
for d in "$top"/k8s/overlays/*/; do
	kusts+=("overlays/$(basename "$d")")
done
for k in "${kusts[@]}"; do
	name=${k//\//-}
	if kubectl kustomize "$top/k8s/$k" >"$out/rendered/$name.yaml" 2>"$out/$name.err" &&
		[ -s "$out/rendered/$name.yaml" ] &&
		! grep -v "'bases' is deprecated\|'patchesStrategicMerge' is deprecated" \
			"$out/$name.err" | grep -q .; then
		pass "render-$name"
	else
		fail "render-$name" "$(head -n 2 "$out/$name.err" | tr '\n' ' ')"
	fi
done

# yamllint: the sources and what kustomize made of them
if yamllint -s -c "$here/yamllint.yaml" "$top/k8s" "$out/rendered" >"$out/yamllint.log" 2>&1; then
	pass yamllint
else
	fail yamllint "$(head -n 3 "$out/yamllint.log" | tr '\n' ' ')"
fi

# the schemas
if ! installed; then
	fail schema "kubernetes-models is not installed in $node_dir (selftests/k8s/manifests.sh install)"
else
	for f in "$out"/rendered/*.yaml "$top"/k8s/examples/*.yaml; do
		name=$(basename "$f" .yaml)
		if NODE_PATH=$node_dir/node_modules node "$here/validate.js" "$f" >"$out/schema-$name.log" 2>&1; then
			pass "schema-$name"
		else
			fail "schema-$name" "$(grep -m 2 FAIL "$out/schema-$name.log" | tr '\n' ' ')"
		fi
	done
	# negative controls: broken/ holds manifests with one kind of mistake
	# each (a misspelled field at the top, deep in a list, through a
	# kustomize patch; wrong types); each must fail, for the reason its
	# "# expect: REGEX" line gives
	for b in "$here"/broken/*.yaml "$here"/broken/*/kustomization.yaml; do
		name=$(basename "$b" .yaml)
		f=$b
		if [ "$name" = kustomization ]; then
			name=$(basename "$(dirname "$b")")
			f=$out/broken-$name.yaml
			kubectl kustomize "$(dirname "$b")" >"$f" 2>/dev/null ||
				{ fail "rejects-$name" "does not render"; continue; }
		fi
		expect=$(sed -n 's/^# expect: //p' "$b")
		if NODE_PATH=$node_dir/node_modules node "$here/validate.js" "$f" \
			>"$out/broken-$name.log" 2>&1; then
			fail "rejects-$name" "validate.js accepted $b"
		elif [ -z "$expect" ] || ! grep -qE "^FAIL .*$expect" "$out/broken-$name.log"; then
			fail "rejects-$name" "rejected, but not for '$expect': $(grep -m 1 FAIL "$out/broken-$name.log")"
		else
			pass "rejects-$name"
		fi
	done
fi

# rcached.conf of each ConfigMap, read by librcache's own parsers
for f in "$out"/rendered/*.yaml; do
	name=$(basename "$f" .yaml)
	python3 -c '
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "ConfigMap" and d["metadata"]["name"] == "rcache-config":
        sys.stdout.write(d["data"]["rcached.conf"])' "$f" >"$out/$name.rcached.conf"
	if [ -s "$out/$name.rcached.conf" ] &&
		"$tools/confcheck" "$out/$name.rcached.conf" >"$out/confcheck-$name.log" 2>&1; then
		pass "rcached-conf-$name"
	else
		fail "rcached-conf-$name" "$(grep -m 2 FAIL "$out/confcheck-$name.log" 2>/dev/null | tr '\n' ' ')"
	fi
done

python3 "$here/check_manifests.py" "$out/rendered" "$top/k8s/examples/training-job.yaml" || failed=1
exit $failed
