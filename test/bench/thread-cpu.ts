import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_S = 100; // USER_HZ on Linux

/** CPU seconds (user + system) of each thread of a process (Linux /proc), keyed by thread id. */
export function threadCpu(pid: number | 'self' = 'self'): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S);
    } catch { /* the thread ended between readdir and read */ }
  }
  return out;
}

/** CPU seconds each thread used between two readings (a thread that started in between counts from zero). */
export function cpuSince(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): Map<string, number> {
  return new Map([...after].map(([tid, s]) => [tid, s - (before.get(tid) ?? 0)]));
}

/** CPU seconds the whole machine spent busy (user, system, interrupts; not idle, iowait or the hypervisor's steal), from /proc/stat. */
export function machineBusySeconds(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = cpu;
  return (user + nice + system + irq + softirq) / TICKS_PER_S;
}
