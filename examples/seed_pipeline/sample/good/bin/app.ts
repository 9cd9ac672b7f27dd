import { greeting } from '../lib/greeting';

console.log(greeting('pipeline'));
