export { createGatewayApp } from './app';
export type { GatewayDeps } from './app';
export { startGateway } from './server';
export type { GatewayServer } from './server';
