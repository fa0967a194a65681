#!/bin/sh
# Install into the image's venv, in one layer: pip from its wheel in the wheelhouse (mounted at
# /wheels), --no-index and --no-deps (the requirements are exact and whole), then remove what no
# image loads and compile what is left. Arguments: what pip installs (-r FILE, or a wheel's path).
set -eu
SITE=/opt/compclip/lib/python3.11/site-packages
PIP_NO_INDEX=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    /opt/compclip/bin/python /wheels/pip-"${PIP_VERSION:?}"-py3-none-any.whl/pip install \
    --quiet --no-deps --no-compile --find-links /wheels "$@"
# What no image loads (sizes in BENCHMARKS.md): test suites, type stubs, C and Cython sources and
# headers (for building against a package only); pyarrow's Flight RPC, its own S3 client (compclip
# reaches S3 through s3fs; pyarrow.fs imports _s3fs only if present) and the unversioned copies of
# its libraries (a wheel cannot hold links; the loader asks for lib*.so.2600); numpy's distutils and
# C headers (f2py stays: scipy.stats imports it); botocore's models of AWS services but S3
# (compclip's only one, through s3fs and boto3) and those its credential providers call (STS for
# web identity, SSO and its tokens, sign-in).
find "$SITE" -depth -type d -name tests -exec rm -rf {} +
find "$SITE" \( -name '*.pyi' -o -path "$SITE/kfp/*_test.py" \) -delete
rm -rf "$SITE"/nltk/test "$SITE"/joblib/test \
    "$SITE"/pyarrow/include "$SITE"/pyarrow/src "$SITE"/pyarrow/_pyarrow_cpp_tests.* \
    "$SITE"/pyarrow/*flight* "$SITE"/pyarrow/libarrow_s3.* "$SITE"/pyarrow/_s3fs.* \
    "$SITE"/pyarrow/libarrow*.so "$SITE"/pyarrow/libarrow*.so.*.*.* \
    "$SITE"/numpy/distutils "$SITE"/numpy/_core/include
if [ -d "$SITE"/pyarrow ]; then
    find "$SITE"/pyarrow \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' -o -name '*.h' \) -delete
fi
if [ -d "$SITE"/botocore/data ]; then
    find "$SITE"/botocore/data -mindepth 1 -maxdepth 1 -type d ! -name s3 ! -name sts ! -name sso \
        ! -name sso-oidc ! -name signin -exec rm -rf {} +
fi
# Bytecode, compiled here: on a read-only root Python cannot cache it, and every task would
# recompile its imports at start (+1.3 s, BENCHMARKS.md). What an earlier layer compiled is up to
# date and skipped. torch ships a test helper written for Python 3.12
# (torch/testing/_internal/py312_intrinsics.py) that no import reaches here.
/opt/compclip/bin/python -m compileall -q -j 0 -x '/py312_intrinsics\.py$' "$SITE"
