/**
 * The blessed terminal dashboard (`p2pchat client` without --headless).
 *
 * - runDashboard(options): the dashboard on this terminal over a child headless client.
 * - ClientPort and its vocabulary (commands, validated events); two ports: the child process
 *   (ChildProcessClientPort) and the in-memory fake for tests (FakeClientPort).
 * - The pure view-model (initialState, reduce) and the app that wires a port to a blessed screen.
 */
export { runDashboard, type DashboardOptions, DEFAULT_LOG_FILE } from './run.ts';
export { type ClientCommand, type ClientEvent, type ClientPort, type PortClosed, parseClientEvent } from './client-port.ts';
export { ChildProcessClientPort, headlessClientCommand } from './child-process-port.ts';
export { FakeClientPort } from './fake-port.ts';
export { DashboardApp } from './app.ts';
export { type DashboardState, type DashboardAction, initialState, reduce } from './view-model.ts';
