#!/usr/bin/env bash
# Runs each fuzz target for a bounded time (default 60 s each) with cargo-fuzz on the nightly
# toolchain. A crash leaves its input in fuzz/artifacts/<target>/; turn it into a regression
# test beside the code it broke, then fix the code.
#   fuzz/run.sh            # 60 s per target
#   FUZZ_SECONDS=300 fuzz/run.sh
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-60}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
mkdir -p corpus/payload corpus/command
cp ../tests/fixtures/payloads/*.json corpus/payload/ 2>/dev/null || true
for text in "List" "Resolve 12 13" "Spam +1 (214) 555-0199" "Note 3 keep, commas,  and spaces" "thank you 🙏" "Liked “See you”"; do
  printf '%s' "$text" > "corpus/command/$(printf '%s' "$text" | md5sum | cut -c1-12)"
done
for target in payload command; do
  echo "== fuzzing $target for ${seconds}s"
  cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -max_len=65536
done
