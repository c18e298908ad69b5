#!/usr/bin/env bash
# Regenerates the spoken prompts shipped in crates/media/prompts/ (8 kHz mono raw PCM16LE).
#
# Needs espeak-ng and sox (Debian: apt-get install -y espeak-ng sox). The outputs are
# committed, so this only runs when a prompt's wording changes; see
# crates/media/prompts/README.md for the versions that produced the committed files.
set -euo pipefail

cd "$(dirname "$0")/.."
out=crates/media/prompts
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

command -v espeak-ng >/dev/null || { echo "espeak-ng not found" >&2; exit 1; }
command -v sox >/dev/null || { echo "sox not found" >&2; exit 1; }

# name|text
prompts=(
  "enter_pin|Please enter the room PIN, then press hash."
  "invalid_pin|That PIN is not valid."
  "goodbye|Goodbye."
)

for entry in "${prompts[@]}"; do
  name=${entry%%|*}
  text=${entry#*|}
  # American English voice, 150 words per minute, 22050 Hz WAV.
  espeak-ng -v en-us -s 150 -w "$tmp/$name.wav" "$text"
  # Resample to 8 kHz mono signed 16-bit little-endian raw, peak-normalised to -3 dBFS,
  # then 100 ms of silence so the prompt does not stop abruptly. -D turns dither off so
  # the output is byte-for-byte reproducible.
  sox -D "$tmp/$name.wav" -r 8000 -c 1 -b 16 -e signed-integer -L -t raw "$out/$name.s16" \
    gain -n -3 pad 0 0.1
  samples=$(( $(stat -c %s "$out/$name.s16") / 2 ))
  printf '%-12s %6d samples  %5d ms  "%s"\n' "$name" "$samples" $(( samples / 8 )) "$text"
done
