#!/usr/bin/env node
// The `moltbot` command: runs the bundled CLI (built by `npm ci` through `prepare`:
// tsc, then scripts/bundle.mjs).
import "../dist/bundle/cli.js";
