#!/bin/sh
# A cold build of a synthetic site, for farm-bench to pair ours against Hugo's on the same cards:
#
#   benchmarks/cold_pair.sh ours WORK [PYTHON]   build-site build --no-verify --no-search, no site, no caches
#   benchmarks/cold_pair.sh hugo WORK            hugo on WORK/hugo (build_speed.make_hugo_site), no public/
#
# e.g. farm-bench -n 5 --vs 'benchmarks/cold_pair.sh hugo WORK' -- benchmarks/cold_pair.sh ours WORK
set -eu
work=$2
case "$1" in
  ours)
    cd "$(dirname "$0")/.."  # python -m generator: this checkout's code
    python=${3:-.venv/bin/python}
    rm -rf "$work/site" "$work/.cache"
    exec "$python" -m generator build --no-verify --no-search --cards "$work/cards" --out "$work/site" --project "$work"
    ;;
  hugo)
    rm -rf "$work/hugo/public" "$work/hugo/resources"
    exec hugo --quiet -s "$work/hugo" -d "$work/hugo/public"
    ;;
  *) echo "usage: cold_pair.sh ours|hugo WORK [PYTHON]" >&2; exit 2 ;;
esac
