#!/bin/sh
# build.sh: builds openjp2.wasm, OpenJPEG's JPEG 2000 / HTJ2K decoder plus
# glue.c, from Debian bookworm's openjpeg2 source package with Debian's
# clang 14 and wasi-libc. The build is reproducible: the same pinned source,
# compiler and flags give the same bytes, so CI can check the committed
# artifact against its source.
#
#   ./build.sh          rebuild openjp2.wasm and openjp2.wasm.sha256
#   ./build.sh --check  rebuild in a temporary directory and fail unless the
#                       result is byte-identical to the committed artifact
#
# Needs a Debian bookworm machine (or container) with apt; as root it
# installs its own toolchain and adds a deb-src line when missing.
set -eu

OPENJPEG_VERSION=2.5.0-2+deb12u3       # Debian source package openjpeg2
OPENJPEG_ORIG_SHA256=007e19d772c8b6b22e35379630b06ff3549e49ba719d96453607a36ad7b4de73
CLANG_VERSION=1:14.0.6-12              # Debian clang-14
WASI_LIBC_VERSION=0.0~git20220510.9886d3d-2
PACKAGES="clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 dpkg-dev xz-utils"

here=$(cd "$(dirname "$0")" && pwd)
mode=build
case "${1:-}" in
--check) mode=check ;;
"") ;;
*) echo "usage: $0 [--check]   (exit 1: artifact differs from its build; 3: cannot verify here)" >&2; exit 2 ;;
esac

pkgver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || true; }

# Toolchain: install what is missing, then insist on the pinned versions.
missing=
for p in $PACKAGES; do
	[ -n "$(pkgver "$p")" ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "build.sh: missing packages:$missing (run as root or apt-get install them)" >&2
		exit 1
	fi
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi
drift=
[ "$(pkgver clang-14)" = "$CLANG_VERSION" ] || drift="$drift clang-14 $(pkgver clang-14) (pinned $CLANG_VERSION);"
[ "$(pkgver lld-14)" = "$CLANG_VERSION" ] || drift="$drift lld-14 $(pkgver lld-14) (pinned $CLANG_VERSION);"
[ "$(pkgver wasi-libc)" = "$WASI_LIBC_VERSION" ] || drift="$drift wasi-libc $(pkgver wasi-libc) (pinned $WASI_LIBC_VERSION);"
if [ -n "$drift" ]; then
	echo "build.sh: WARNING: toolchain differs from the pinned one:$drift" >&2
	echo "build.sh: the artifact may legitimately differ; a --check failure below is then a toolchain change, not a tampered artifact" >&2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Source: Debian's package, verified by apt (signed Release) and by the
# upstream tarball's hash pinned above.
if ! apt-get source --only-source --print-uris openjpeg2="$OPENJPEG_VERSION" >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		echo "build.sh: no deb-src for openjpeg2 $OPENJPEG_VERSION; add a deb-src line for bookworm" >&2
		exit 1
	fi
	cat >/etc/apt/sources.list.d/huren-openjpeg-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	apt-get update -q
fi
(cd "$work" && apt-get source -q --only-source openjpeg2="$OPENJPEG_VERSION" >/dev/null 2>"$work/apt.log") || {
	cat "$work/apt.log" >&2
	echo "build.sh: cannot fetch openjpeg2 $OPENJPEG_VERSION source (is it still in the archive? see snapshot.debian.org)" >&2
	exit 3 # cannot verify (not a mismatch): scripts/test warns
}
got=$(sha256sum "$work"/openjpeg2_2.5.0.orig.tar.xz | cut -d' ' -f1)
if [ "$got" != "$OPENJPEG_ORIG_SHA256" ]; then
	echo "build.sh: openjpeg2_2.5.0.orig.tar.xz sha256 $got, pinned $OPENJPEG_ORIG_SHA256" >&2
	exit 1
fi
src="$work/openjpeg2-2.5.0/src/lib/openjp2"

# The two headers CMake would generate.
cat >"$src/opj_config.h" <<'CFG'
#define OPJ_HAVE_STDINT_H 1
#define OPJ_VERSION_MAJOR 2
#define OPJ_VERSION_MINOR 5
#define OPJ_VERSION_BUILD 0
CFG
cat >"$src/opj_config_private.h" <<'CFG'
#define OPJ_HAVE_INTTYPES_H 1
#define OPJ_PACKAGE_VERSION "2.5.0"
CFG

# Decoder sources only; the JPIP index writers are left out. No
# MUTEX_pthread: OpenJPEG's single-threaded stubs.
files="bio cio dwt event function_list ht_dec image invert j2k jp2 mct mqc openjpeg opj_malloc pi sparse_array t1 t2 tcd tgt thread"
cp "$here/glue.c" "$src/hl_glue.c"
CC=clang-14
CFLAGS="--target=wasm32-wasi --sysroot=/usr -O2 -DNDEBUG -DOPJ_STATIC -msimd128 -mbulk-memory -mnontrapping-fptoint -msign-ext -ffile-prefix-map=$work=. -fno-ident -Wno-everything"
objs=
for f in $files; do
	(cd "$work" && $CC $CFLAGS -finstrument-function-entry-bare -c "$src/$f.c" -o "$work/$f.o")
	objs="$objs $work/$f.o"
done
(cd "$work" && $CC $CFLAGS -c "$src/hl_glue.c" -o "$work/hl_glue.o")
objs="$objs $work/hl_glue.o"
out="$work/openjp2.wasm"
# Reactor: no main, _initialize runs the C constructors. Only the glue's
# entry points are exported; --gc-sections drops the encoder and file I/O.
$CC --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -O2 \
	-Wl,--gc-sections -Wl,--strip-all -Wl,-z,stack-size=1048576 \
	-Wl,--export=hl_malloc -Wl,--export=hl_free -Wl,--export=hl_result \
	-Wl,--export=hl_decode -Wl,--export=hl_release \
	-o "$out" $objs

sum=$(cd "$work" && sha256sum openjp2.wasm)
if [ "$mode" = check ]; then
	want=$(cat "$here/openjp2.wasm.sha256")
	have=$(cd "$here" && sha256sum openjp2.wasm)
	if [ "$sum" != "$want" ] || [ "$have" != "$want" ] || ! cmp -s "$out" "$here/openjp2.wasm"; then
		echo "build.sh --check: FAILED: rebuilt          $sum" >&2
		echo "build.sh --check:         committed        $have" >&2
		echo "build.sh --check:         openjp2.wasm.sha256 $want" >&2
		if [ -n "$drift" ]; then
			echo "build.sh --check: toolchain differs from the pinned one:$drift — cannot tell a tampered artifact from a toolchain change" >&2
			exit 3
		fi
		exit 1
	fi
	echo "build.sh --check: ok, openjp2.wasm matches its build ($sum)"
	exit 0
fi
cp "$out" "$here/openjp2.wasm"
echo "$sum" >"$here/openjp2.wasm.sha256"
echo "build.sh: $(wc -c <"$here/openjp2.wasm") bytes, $sum"
