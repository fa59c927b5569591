/** Reading another process's CPU time and memory from /proc (Linux only). */
import { readdirSync, readFileSync } from 'node:fs';

const TICK_NS = 1e7; // USER_HZ is 100 on Linux

/**
 * CPU time (user + system) of every live thread of `pid`, in nanoseconds, from
 * /proc/{pid}/task/{tid}/schedstat (ns resolution). Falls back to /proc/{pid}/stat ticks (10 ms).
 */
export function cpuNs(pid: number): number {
  try {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const s = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1');
        total += Number(s.slice(0, s.indexOf(' ')));
      } catch {
        /* thread exited meanwhile */
      }
    }
    if (total > 0) return total;
  } catch {
    /* fall through */
  }
  return cpuTicksNs(pid);
}

/** utime + stime from /proc/{pid}/stat (includes exited threads), in ns at 10 ms resolution. */
export function cpuTicksNs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is state (field 3); utime is field 14, stime field 15 → indexes 11, 12
  return (Number(fields[11]) + Number(fields[12])) * TICK_NS;
}

/** Resident set size in KiB (VmRSS). */
export function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

export function threadCount(pid: number): number {
  return readdirSync(`/proc/${pid}/task`).length;
}

export function openFiles(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Snapshot for measuring a phase over one process or several (summed): `const m = new CpuMeter(pids); …; m.read()`. */
export class CpuMeter {
  private readonly pids: number[];
  private readonly cpu0: number;
  private readonly t0: number;
  constructor(pid: number | number[]) {
    this.pids = Array.isArray(pid) ? pid : [pid];
    this.cpu0 = this.total();
    this.t0 = performance.now();
  }
  private total(): number {
    return this.pids.reduce((sum, pid) => sum + cpuNs(pid), 0);
  }
  /** { cpuMs: server CPU spent, wallMs: elapsed wall time, util: cpu/wall } since construction. */
  read(): { cpuMs: number; wallMs: number; util: number } {
    const cpuMs = (this.total() - this.cpu0) / 1e6;
    const wallMs = performance.now() - this.t0;
    return { cpuMs, wallMs, util: wallMs > 0 ? cpuMs / wallMs : 0 };
  }
}
