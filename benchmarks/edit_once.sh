#!/bin/sh
# One card of a synthetic site edited (its English summary gets a new number each call), then the
# whole `build-site build` process of that checkout, search included: the command farm-bench
# times for the one-card edit figure, one work folder per checkout so that two can be paired.
#
#   benchmarks/edit_once.sh CHECKOUT WORK [PYTHON]
#
# WORK holds cards/ (make it with: python -c 'import sys; sys.path.insert(0, "benchmarks");
# import build_speed, pathlib; build_speed.make_cards(pathlib.Path("WORK/cards"), 1000)') and
# is built once before timing. PYTHON defaults to the checkout's .venv. A checkout other than
# the installed one is run from its own folder: `python -m generator` puts the current folder
# first on sys.path.
set -eu
cd "$1"
work=$2
python=${3:-$1/.venv/bin/python}
n=$(cat "$work/count" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$work/count"
sed -i "s/^    en_US: .*/    en_US: edited summary number $n/" "$work/cards/synth_vision_net00500.md"
exec "$python" -m generator build --no-verify --cards "$work/cards" --out "$work/site" --project "$work"
