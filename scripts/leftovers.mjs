// What a test run may leave behind on Linux: processes it started (registries, stand-in tools, the action)
// and the loopback listeners they hold. A run marks its processes with RUN_MARK in their environment, so
// nothing else on the machine is counted.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export const RUN_MARK = 'BAKE_TEST_RUN';

export const newRunMark = () => randomUUID();

/** Live processes whose environment carries this run's mark, with their command lines. */
export function markedProcesses(mark) {
  const found = new Map();
  const needle = `${RUN_MARK}=${mark}`;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(needle)) continue;
      found.set(Number(pid), readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim());
    } catch {
      // the process ended while we looked, or is not ours to read
    }
  }
  return found;
}

/** Loopback ports in LISTEN state held by any of `pids`. */
export function listenersOf(pids) {
  const inodes = new Set();
  for (const pid of pids) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        const socket = /^socket:\[(\d+)\]$/.exec(link);
        if (socket) inodes.add(socket[1]);
      }
    } catch {
      // gone meanwhile
    }
  }
  const ports = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // fields: sl local remote state … inode (index 9); 0A is LISTEN.
      if (fields[3] === '0A' && inodes.has(fields[9]))
        ports.push(Number.parseInt(fields[1].split(':')[1], 16));
    }
  }
  return ports;
}
