// One definition of the script, shared by the worker (leaving its group) and the operator.
export { REMOVE_CONSUMER } from '../../worker/stream/scripts.js';
