#!/usr/bin/env node
/**
 * The `flowpool` command. This is the only module that reads process.env:
 * it hands the environment to the program, which hands it to the loaders.
 */
import { RUNNING, runCli } from './program.js';

const outcome = await runCli(process.argv, process.env);
// Long-running programs (worker, api, operator) exit through their Shutdown.
if (outcome !== RUNNING) process.exit(outcome);
