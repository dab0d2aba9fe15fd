// What the test suite may leave behind on Linux: processes it started (registries, stand-in tools, the
// action) and loopback listeners. Compared before and after a run, so other processes on the machine don't count.
import { readdirSync, readFileSync } from 'node:fs';

const OURS =
  /docker-registry|bake-world-|bake-run-|bake-e2e-|bake-sandbox-|bake-oci-manifests-|dist\/(index|post)\.js/;

export function ourProcesses() {
  const found = new Map();
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (Number(pid) !== process.pid && OURS.test(cmdline)) found.set(Number(pid), cmdline);
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

export function loopbackListeners() {
  const ports = new Set();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      // 0A is LISTEN; 0100007F is 127.0.0.1 in /proc's little-endian hex.
      if (state === '0A' && local?.startsWith('0100007F:'))
        ports.add(Number.parseInt(local.split(':')[1], 16));
    }
  }
  return ports;
}
