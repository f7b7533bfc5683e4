// Where a benchmark's CPU goes, from Linux's /proc: the whole machine's busy time, this process's
// own (the service, when the bench runs it in process), and a local PostgreSQL server's (its
// postmaster and every process it started: backends, WAL writer, checkpointer). A benchmark that
// keeps the machine's cores busy is bound by CPU, and these split each operation's CPU by process.
import fs from 'node:fs';

/** Linux reports process and machine times in clock ticks of 1/100 s (USER_HZ, 100 on every Linux architecture we run on). */
const ticksPerSecond = 100;
const msPerTick = 1000 / ticksPerSecond;

export interface CpuSample {
  /** Busy (not idle, not waiting on I/O) time of all CPUs together, ms. */
  machineBusyMs: number;
  /** Elapsed time of all CPUs together (busy + idle + iowait), ms. */
  machineTotalMs: number;
  /** This process and the service's other processes, ms (user + system). */
  selfMs: number;
  /** The database server's processes: CPU ms by pid; null when the server is not a process of this machine. */
  database: Map<number, number> | null;
}

/** CPU used between two samples; shares are of the machine's capacity over that time. */
export interface CpuUse {
  machineBusyShare: number;
  selfMs: number;
  databaseMs: number | null;
  /** Busy time not spent by this process or the database server (the load generator, other work), ms. */
  restMs: number;
}

/** utime + stime (ms) and the parent pid of one process, or null when it has gone. */
function processTimes(pid: number): { ms: number; ppid: number } | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid ... utime stime ...": comm may hold spaces and parentheses, so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), ms: (Number(fields[11]) + Number(fields[12])) * msPerTick };
}

/** The postmaster of a backend pid (its parent), when that backend is a process of this machine. */
export function postmasterOf(backendPid: number): number | null {
  return processTimes(backendPid)?.ppid ?? null;
}

function databaseTimes(postmaster: number): Map<number, number> | null {
  const own = processTimes(postmaster);
  if (!own) return null;
  const byPid = new Map([[postmaster, own.ms]]);
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const times = processTimes(Number(entry));
    if (times?.ppid === postmaster) byPid.set(Number(entry), times.ms);
  }
  return byPid;
}

/**
 * @param servicePids processes of the service besides this one (its HTTP workers): their CPU counts
 * as the service's, beside this process's own
 */
export function sampleCpu(postmaster: number | null, servicePids: number[] = []): CpuSample {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  // cpu user nice system idle iowait irq softirq steal ...
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number) as number[];
  const busy = user! + nice! + system! + irq! + softirq! + steal!;
  const self = process.cpuUsage();
  const workersMs = servicePids.reduce((sum, pid) => sum + (processTimes(pid)?.ms ?? 0), 0);
  return {
    machineBusyMs: busy * msPerTick, machineTotalMs: (busy + idle! + iowait!) * msPerTick,
    selfMs: (self.user + self.system) / 1000 + workersMs, database: postmaster === null ? null : databaseTimes(postmaster),
  };
}

export function cpuUse(before: CpuSample, after: CpuSample): CpuUse {
  const busy = after.machineBusyMs - before.machineBusyMs;
  const selfMs = after.selfMs - before.selfMs;
  // Per process: a backend that started in the window counts whole; one that ended in it (a pool
  // closing an idle connection) is not seen at the end, and what it used in the window is missed.
  let database: number | null = null;
  if (before.database && after.database) {
    database = 0;
    for (const [pid, ms] of after.database) database += ms - (before.database.get(pid) ?? 0);
  }
  return {
    machineBusyShare: busy / Math.max(1, after.machineTotalMs - before.machineTotalMs),
    selfMs, databaseMs: database, restMs: busy - selfMs - (database ?? 0),
  };
}
