#!/usr/bin/env node
// The `moltbot` command: runs the compiled CLI (built by `npm ci` through `prepare`).
import "../dist/src/cli.js";
