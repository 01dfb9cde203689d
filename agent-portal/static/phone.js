// The portal's web phone, in the browser: janus.js to the Janus gateway's SIP plugin, registering
// the client's web phone account with the token and identity the page was given.
import Janus from '/static/janus.js';

const root = document.getElementById('phone');
const config = JSON.parse(document.getElementById('phone-config').textContent);
const statusEl = document.getElementById('phone-status');
const numberEl = document.getElementById('phone-number');
const callBtn = document.getElementById('phone-call');
const hangupBtn = document.getElementById('phone-hangup');
const audio = document.getElementById('phone-audio');
let sip = null;

function state(name, text) {
  root.dataset.state = name;
  statusEl.textContent = text || name;
}

for (const key of document.querySelectorAll('.dialpad .key')) {
  key.addEventListener('click', () => {
    numberEl.value += key.dataset.key;
    if (sip && root.dataset.state === 'incall') sip.dtmf({ dtmf: { tones: key.dataset.key } });
  });
}

callBtn.addEventListener('click', () => {
  const number = numberEl.value.replace(/[^0-9+*#]/g, '');
  if (!sip || !number) return;
  state('calling', `calling ${number}`);
  sip.createOffer({
    tracks: [{ type: 'audio', capture: true, recv: true }],
    success: (jsep) => sip.send({ message: { request: 'call', uri: `sip:${number}@${config.domain}` }, jsep }),
    error: (err) => state('error', `error: ${err.message || err}`),
  });
  hangupBtn.disabled = false;
});

hangupBtn.addEventListener('click', () => {
  if (!sip) return;
  sip.send({ message: { request: 'hangup' } });
  sip.hangup();
  hangupBtn.disabled = true;
  state('registered');
});

Janus.init({
  debug: false,
  callback: () => {
    if (!Janus.isWebrtcSupported()) { state('error', 'WebRTC is not supported by this browser'); return; }
    const janus = new Janus({
      server: config.janus_url,
      token: config.janus_token,
      success: () => {
        janus.attach({
          plugin: config.plugin || 'janus.plugin.sip',
          success: (handle) => {
            sip = handle;
            state('attached');
            sip.send({ message: config.register });
          },
          error: (err) => state('error', `attach failed: ${err}`),
          onmessage: (msg, jsep) => {
            const event = msg.result && msg.result.event;
            if (msg.error) state(root.dataset.state === 'attached' ? 'attached' : 'error', msg.error);
            if (event === 'registered') { state('registered'); callBtn.disabled = false; }
            if (event === 'registration_failed') state('registration_failed', `registration failed (${msg.result.code || ''})`);
            if (event === 'accepted' && jsep) { sip.handleRemoteJsep({ jsep }); state('incall'); }
            if (event === 'hangup') { state('registered'); hangupBtn.disabled = true; }
          },
          onremotetrack: (track, mid, on) => {
            if (on && track.kind === 'audio') audio.srcObject = new MediaStream([track]);
          },
        });
      },
      error: (err) => state('error', `gateway: ${err}`),
    });
  },
});
