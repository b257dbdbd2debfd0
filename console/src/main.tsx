import { render } from 'preact';
import { App } from './app';
import { adoptTokenFromFragment } from './session';
import './styles.css';

adoptTokenFromFragment();
render(<App />, document.getElementById('app')!);
