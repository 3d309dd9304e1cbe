import type { Config } from './model.js';

/**
 * The deployment with its gateway on `gatewayPort` and each proxy moved by the same amount, so
 * that a second local deployment (a test beside the operator's own) takes other ports. Returns the
 * reason instead when a moved port would leave 1024–65535.
 */
export function movePorts(config: Config, gatewayPort: number): Config | { problem: string } {
  const shift = gatewayPort - config.deployment.gateway.port;
  const ports = [gatewayPort, ...config.providers.flatMap((p) => (p.proxy ? [p.proxy.port + shift] : []))].sort((a, b) => a - b);
  const out = ports.find((p) => !Number.isInteger(p) || p < 1024 || p > 65535);
  if (out !== undefined) {
    return { problem: `port ${gatewayPort} puts the gateway and its proxies on ${ports.join(', ')}; each must be from 1024 to 65535` };
  }
  return {
    ...config,
    deployment: { ...config.deployment, gateway: { ...config.deployment.gateway, port: gatewayPort } },
    providers: config.providers.map((p) => (p.proxy ? { ...p, proxy: { ...p.proxy, port: p.proxy.port + shift } } : p)),
  };
}
