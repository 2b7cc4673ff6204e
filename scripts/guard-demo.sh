#!/usr/bin/env bash
# The guard demo (README "Blocking untrusted images where they run"), as root:
#
#   1. sets everything up (scripts/env.sh) and builds tracebuild if needed;
#   2. compiles a clean and a trojanized stand-in compiler (testdata/trojan/cc.c) and puts
#      each in a base image;
#   3. builds the same application on each base with `tracebuild build --key --push`: two
#      traced, signed images, 127.0.0.1:5000/demo/app:clean and :trojan;
#   4. writes a policy that pins the clean compiler's sha256 and allows no egress, and
#      turns the guard on (scripts/env.sh guard-on).
#
# Then `docker run` of :clean runs and of :trojan is refused. `scripts/env.sh guard-off`
# ends the demo. Honours TRACEBUILD_DOCKER_INSTANCE like scripts/env.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEMO_DIR=${TRACEBUILD_STATE_DIR:-/var/lib/tracebuild}/demo${TRACEBUILD_DOCKER_INSTANCE:+-$TRACEBUILD_DOCKER_INSTANCE}
IMAGE=127.0.0.1:5000/demo/app
# Where the trojanized compiler phones home; nothing needs to listen for the trace to show it.
IMPLANT_PORT=4444
export TRACEBUILD_KEY_PASSWORD=${TRACEBUILD_KEY_PASSWORD:-tracebuild-demo}
if [ -n "${TRACEBUILD_DOCKER_INSTANCE:-}" ]; then
  export DOCKER_HOST=unix:///run/tracebuild/$TRACEBUILD_DOCKER_INSTANCE/docker.sock
fi

say() { printf 'demo: %s\n' "$*" >&2; }

bash "$ROOT/scripts/env.sh"
[ -f "$ROOT/dist/cli/main.js" ] || (cd "$ROOT" && npm ci --no-audit --no-fund >/dev/null && npm run build >/dev/null)
tracebuild() { node "$ROOT/dist/cli/main.js" "$@"; }

mkdir -p "$DEMO_DIR"
[ -f "$DEMO_DIR/signer.key" ] || tracebuild keygen --out "$DEMO_DIR/signer" >/dev/null

for kind in clean trojan; do
  base=$DEMO_DIR/base-$kind
  mkdir -p "$base"
  cp "$ROOT/testdata/trojan/base/Dockerfile" "$base/Dockerfile"
  defines=()
  [ "$kind" = trojan ] && defines=(-DTROJAN "-DIMPLANT_PORT=$IMPLANT_PORT")
  gcc -static -O2 "${defines[@]}" -o "$base/cc" "$ROOT/testdata/trojan/cc.c"
  say "base image with the $kind compiler: sha256 $(sha256sum "$base/cc" | cut -d' ' -f1)"
  DOCKER_BUILDKIT=1 /usr/bin/docker build -q -t "tracebuild-demo/cc-$kind" "$base" >/dev/null
  say "building, signing and pushing $IMAGE:$kind with tracebuild"
  tracebuild build -q --network host --no-cache --build-arg "BASE=tracebuild-demo/cc-$kind" \
    --key "$DEMO_DIR/signer.key" --push -t "$IMAGE:$kind" "$ROOT/testdata/trojan/app" >/dev/null
done

sed "s/@CLEAN_SHA256@/$(sha256sum "$DEMO_DIR/base-clean/cc" | cut -d' ' -f1)/" \
  "$ROOT/testdata/trojan/policy.yaml.in" >"$DEMO_DIR/policy.yaml"
bash "$ROOT/scripts/env.sh" guard-on --restart-dockerd --key "$DEMO_DIR/signer.pub" --policy "$DEMO_DIR/policy.yaml"

cat >&2 <<EOF
demo: ready. Now:
  docker run --rm $IMAGE:clean cat /out/app     # allowed
  docker run --rm $IMAGE:trojan cat /out/app    # refused by the guard
and end it with: bash scripts/env.sh guard-off
EOF
