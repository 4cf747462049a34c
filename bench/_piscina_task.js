'use strict';
// The piscina worker's task: the same two operations as bench/_interp_tasks.py.
module.exports = ({ op, n }) => {
  if (op === 'spin') {
    let total = 0;
    for (let i = 0; i < n; i++) total += i * i;
    return total;
  }
  return n;
};
