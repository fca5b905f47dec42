/**
 * The one door to TensorFlow.js for commands that compute (train, study, sweep, demo, eval,
 * merge): imported on demand, so --help, profile, storage and data start without loading tfjs.
 */
export async function loadCompute(): Promise<typeof import('../experiments/session.js')> {
  const tf = await import('@tensorflow/tfjs');
  // tfjs's production mode: no "install tfjs-node" banner on stderr (ctquant picks its backends itself).
  tf.env().set('PROD', true);
  return import('../experiments/session.js');
}
