// Download the search index only when the reader searches.
//
// Material for MkDocs requests search/search_index.json (about 600 KB, the
// text of every page) as soon as any page loads, whether or not the reader
// ever searches: on the home page that was most of what a visit downloaded.
// This script, loaded in <head> before Material's bundle (mkdocs.yml,
// extra.polyfills), holds back the send() of that one XMLHttpRequest until
// the reader shows an intent to search: the search box gets focus (click,
// tap, or Material's "/", "s", "f" shortcuts), the header's search button is
// clicked, or the pointer rests on the search box (a head start of a few
// hundred ms). A page opened from a search result (?h=...) or with a query
// (?q=...) highlights or searches at once, so it requests the index at once.
// Material's search queues the query until its worker has the index, so
// nothing typed meanwhile is lost.
//
// On file:// Material loads search/search_index.js by a <script> instead,
// and only when search opens: nothing to hold back there. If Material ever
// stops using XMLHttpRequest for the index, this does nothing and the home
// page weight test (tests/test_browser.py) fails.
(function () {
  "use strict";

  const INDEX = /\/search\/search_index\.json$/;   // tested on the pathname
  let release;
  const wanted = new Promise((resolve) => { release = resolve; });

  const params = new URLSearchParams(location.search);
  if (params.has("h") || params.has("q")) release();

  const isSearch = (target) => target instanceof Element && target.closest(
    "[data-md-component=search], label[for=__search]") !== null;
  document.addEventListener("focusin", (event) => { if (isSearch(event.target)) release(); }, true);
  document.addEventListener("pointerover", (event) => { if (isSearch(event.target)) release(); }, true);
  document.addEventListener("change", (event) => {
    if (event.target instanceof Element && event.target.id === "__search") release();
  }, true);

  const open = XMLHttpRequest.prototype.open;
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    this.__searchIndex = INDEX.test(new URL(String(url), document.baseURI).pathname);
    return open.call(this, method, url, ...rest);
  };
  XMLHttpRequest.prototype.send = function (...args) {
    if (!this.__searchIndex) return send.apply(this, args);
    wanted.then(() => send.apply(this, args));
    return undefined;
  };
})();
