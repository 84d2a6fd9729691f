#!/bin/sh
# SPDX-License-Identifier: MIT
# Two guests: the robustness suite's short form (tests/fuzz/, small counts).
# The full run is `make fuzz` (tests/fuzz/run-fuzz).
# guests: 2
tests/fuzz/guest-fuzz.sh quick "$(date +%s)"
