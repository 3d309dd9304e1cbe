import { createHash } from 'node:crypto';
import type { DesiredState, ServiceManager } from './desired.js';

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export interface Manifest {
  environment: string;
  services: ServiceManager;
  files: {
    path: string;
    name: string;
    role: string;
    mode: string;
    owner: string | null;
    /** Of the rendered content; for a sensitive file that is its template, which holds no value. */
    sha256: string;
    sensitive: boolean;
  }[];
  units: { name: string; port: number; health: string; after: string[]; restartOn: string[]; reloadOn: string[] }[];
}

/** The desired state as data: every file with its digest and every service with what restarts it. */
export function manifestOf(state: DesiredState): Manifest {
  return {
    environment: state.environment,
    services: state.services,
    files: state.files.map((f) => ({
      path: f.path,
      name: f.name,
      role: f.role,
      mode: `0${f.mode.toString(8)}`,
      owner: f.owner ?? null,
      sha256: sha256(f.content),
      sensitive: f.sensitive,
    })),
    units: state.units.map((u) => ({
      name: u.name,
      port: u.port,
      health: u.health,
      after: u.after,
      restartOn: u.restartOn,
      reloadOn: u.reloadOn,
    })),
  };
}
