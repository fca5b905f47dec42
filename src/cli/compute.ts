/**
 * The one door to TensorFlow.js for commands that compute (train, study, sweep, demo, eval,
 * merge, worker): imported on demand, so --help, profile, storage and data start without loading tfjs.
 */
export async function loadCompute(): Promise<
  typeof import('../pipeline/session.js') & Pick<typeof import('../experiments/session.js'), 'runExperiment' | 'stopExitCode'>
> {
  const tf = await import('@tensorflow/tfjs');
  // tfjs's production mode: no "install tfjs-node" banner on stderr (ctquant picks its backends itself).
  tf.env().set('PROD', true);
  const [pipeline, experiments] = await Promise.all([import('../pipeline/session.js'), import('../experiments/session.js')]);
  return { ...pipeline, runExperiment: experiments.runExperiment, stopExitCode: experiments.stopExitCode };
}
