#!/usr/bin/env node
// Thin launcher so `npx tether-cloud` runs the compiled CLI (built by `npm ci` via the root `prepare`).
import '../dist/cli/main.js';
