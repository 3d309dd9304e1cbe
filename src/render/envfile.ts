/**
 * Env files carry secrets to services (systemd EnvironmentFile=, never a command line). Render
 * writes the template: names only. Apply fills in values from the environment's secret source.
 */
export function envTemplate(vars: Record<string, string>): string {
  const lines = ['# Managed by clawops. Values are filled in at apply time from the secret source.'];
  for (const name of Object.keys(vars).sort()) lines.push(`${name}=`);
  return `${lines.join('\n')}\n`;
}

/** A value an env file cannot hold; the message names the variable, never the value. */
export class EnvValueError extends Error {
  override name = 'EnvValueError';
}

/** Quotes a value for a systemd EnvironmentFile / dotenv line. */
export function envLine(name: string, value: string): string {
  if (/[\n\r\0]/.test(value)) throw new EnvValueError(`${name}: a value with a line break or NUL cannot go into an env file`);
  return /^[A-Za-z0-9_@%+=:,./-]*$/.test(value) ? `${name}=${value}` : `${name}="${value.replace(/(["\\$`])/g, '\\$1')}"`;
}

/** The env file with its values, as apply writes it. Callers hold the values; nothing here logs. */
export function envWithValues(vars: Record<string, string>, valueOf: (secret: string) => string): string {
  const lines = ['# Managed by clawops.'];
  for (const name of Object.keys(vars).sort()) lines.push(envLine(name, valueOf(vars[name]!)));
  return `${lines.join('\n')}\n`;
}
