#!/usr/bin/env node
// Thin launcher so `npx tether-agent` runs the compiled CLI (built by `npm ci` via the root `prepare`).
import '../dist/cli/main.js';
