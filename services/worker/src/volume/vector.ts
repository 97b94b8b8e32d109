import type { Vec3 } from './pet-volume';

export const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

export const cross = (a: Vec3, b: Vec3): Vec3 =>
  [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

export const add = (a: Vec3, b: Vec3): Vec3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];

export const scale = (a: Vec3, s: number): Vec3 => [a[0] * s, a[1] * s, a[2] * s];

export const norm = (a: Vec3): number => Math.sqrt(dot(a, a));

/** The unit vector along `a`; -0 becomes 0 so that results print and compare as a reader expects. */
export const normalize = (a: Vec3): Vec3 => {
  const n = norm(a);
  return [a[0] / n + 0, a[1] / n + 0, a[2] / n + 0];
};

/** A position as a reader checks it against a viewer: millimetres, two decimals. */
export const formatPosition = (a: Vec3): string => `(${a.map((v) => v.toFixed(2)).join(', ')})`;
