// Tells the workshop that a person opened the check-in page, once it is loaded and
// visible. Link scanners in mail and SMS apps fetch the page without running it, so
// they never count as the customer opening it (see portal/visits.py). Without
// JavaScript, the next page or any form the customer sends counts instead.
(function () {
  "use strict";
  var url = document.body.getAttribute("data-seen-url");
  if (!url || !navigator.sendBeacon) {
    return;
  }
  function seen() {
    if (document.visibilityState !== "visible") {
      return;
    }
    document.removeEventListener("visibilitychange", seen);
    navigator.sendBeacon(url);
  }
  document.addEventListener("visibilitychange", seen);
  seen();
})();
