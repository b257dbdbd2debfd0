import type { ApiServices } from '../../api/app.js';

/**
 * The api's services with `getExecution` replaced (a read that fails, or
 * waits at a gate). The other methods are bound to the real service: it is a
 * class, so spreading it would lose them.
 */
export function withGetExecution(
  runtime: ApiServices,
  getExecution: ApiServices['service']['getExecution'],
): ApiServices {
  const { service } = runtime;
  return {
    ...runtime,
    service: {
      startExecution: service.startExecution.bind(service),
      enqueueEvent: service.enqueueEvent.bind(service),
      enqueueEvents: service.enqueueEvents.bind(service),
      historyPage: service.historyPage.bind(service),
      executionExists: service.executionExists.bind(service),
      getExecution,
    },
  };
}
