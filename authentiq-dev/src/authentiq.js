/*
 * AuthentiqJS-compatible sign-in, served by the authentiq-rs development provider at
 * /authentiq.js, so that a page using it works offline.
 *
 *   <button class="authentiq-button">Sign in with Authentiq</button>
 *   <script src="http://127.0.0.1:PORT/authentiq.js"
 *           data-start="/auth/start" data-callback="/auth/callback"></script>
 *
 * A click fetches a new sign-in from the app (`data-start`: the authorization request with
 * `state`, `nonce` and PKCE, bound to the app's flow cookie), opens it in a popup with
 * `response_mode=web_message`, and forwards the provider's response as JSON to the app
 * (`data-callback`), which validates everything and answers 200 with the claims or 400.
 * This script verifies nothing itself.
 *
 * Events, dispatched on `document` as CustomEvents named `authentiq:<event>`, with `detail`:
 *   authorized                  the whole authorization response
 *   authorized:code, authorized:id_token, authorized:access_token
 *                               that member of it
 *   profile                     the claims the app answered with (validated by the app)
 *   concluded                   the provider session ended (signed out, also from the phone),
 *                               seen through the provider's check-session iframe
 *   error                       { error, error_description }: the provider's refusal, the
 *                               app's 400 answer, or a failure to reach either
 */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script) { return; }
  var data = script.dataset;
  var provider = new URL(script.src).origin;
  var startUrl = data.start || '/auth/start';
  var callbackUrl = data.callback || '/auth/callback';
  var popup = null;
  var expected = null;

  function emit(name, detail) {
    document.dispatchEvent(new CustomEvent('authentiq:' + name, { detail: detail }));
  }

  function fail(error, description) {
    emit('error', { error: error, error_description: description });
  }

  function signIn(event) {
    if (event) { event.preventDefault(); }
    // Opened during the click, so that popup blockers let it through.
    popup = window.open('', 'authentiq', 'width=520,height=760');
    fetch(startUrl, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) {
        if (!r.ok) { throw new Error('the app answered ' + r.status + ' to ' + startUrl); }
        return r.json();
      })
      .then(function (start) {
        var url = new URL(start.authorize_url);
        if (url.origin !== provider) {
          throw new Error('the sign-in is for ' + url.origin + ', not ' + provider);
        }
        url.searchParams.set('response_mode', 'web_message');
        url.searchParams.set('display', 'popup');
        expected = { state: start.state, clientId: start.client_id };
        if (!popup || popup.closed) {
          throw new Error('the browser blocked the sign-in window');
        }
        popup.location.href = url.href;
      })
      .catch(function (e) {
        if (popup) { popup.close(); }
        fail('start_failed', String(e && e.message ? e.message : e));
      });
  }

  function forward(response) {
    fetch(callbackUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(response)
    })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          if (r.ok) {
            emit('profile', body);
            watch(expected && expected.clientId, response.session_state);
          } else {
            emit('error', body);
          }
        });
      })
      .catch(function (e) { fail('callback_failed', String(e && e.message ? e.message : e)); });
  }

  window.addEventListener('message', function (event) {
    if (event.origin !== provider || !event.data || event.data.type !== 'authorization_response') {
      return;
    }
    var response = event.data.response || {};
    // Only the answer to the sign-in this page started.
    if (!expected || response.state !== expected.state) { return; }
    if (!response.error) {
      emit('authorized', response);
      ['code', 'id_token', 'access_token'].forEach(function (name) {
        if (response[name]) { emit('authorized:' + name, response[name]); }
      });
    }
    // Errors go to the app too: it ends the flow and answers 400 with the provider's code.
    forward(response);
  });

  // OpenID Connect Session Management: ask the provider's check-session iframe every few
  // seconds whether the session of this sign-in still stands.
  var checking = null;
  function watch(clientId, sessionState) {
    if (!clientId || !sessionState || checking) { return; }
    var frame = document.createElement('iframe');
    frame.hidden = true;
    frame.src = provider + '/authorize/check-session';
    document.body.appendChild(frame);
    window.addEventListener('message', function (event) {
      if (event.origin !== provider || event.source !== frame.contentWindow) { return; }
      if (event.data === 'changed') {
        clearInterval(checking);
        emit('concluded', {});
      }
    });
    checking = setInterval(function () {
      frame.contentWindow.postMessage(clientId + ' ' + sessionState, provider);
    }, 2000);
  }

  function bind() {
    var buttons = document.querySelectorAll('.authentiq-button');
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener('click', signIn);
    }
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', bind);
  } else {
    bind();
  }
})();
