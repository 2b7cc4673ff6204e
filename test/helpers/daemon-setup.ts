// The integration suite's setup file: every command a test runs (tracebuild, docker) talks
// to the daemon of this run (see daemons.ts).
import { currentDaemon } from './daemons.js';

process.env.DOCKER_HOST = currentDaemon().dockerHost;
