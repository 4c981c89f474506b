/**
 * The control plane's Powertools metrics, in a module of its own: only the handlers that emit a
 * metric import it, so the others' bundles do not carry Powertools Metrics (issue 11 §4).
 */
import { Metrics } from '@aws-lambda-powertools/metrics';

/** The metrics namespace of the control plane. */
export const METRICS_NAMESPACE = 'WindowsRollout';

export const metrics = new Metrics({
  namespace: METRICS_NAMESPACE,
  serviceName: 'windows-rollout',
});
