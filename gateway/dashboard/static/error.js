/* Akker dashboard: an error page in the reader's language (the server words it in English). */
"use strict";

(function () {
  var box = document.getElementById("error");
  var key = "err_" + box.dataset.code;
  if (Akker.t(key) !== key) box.textContent = Akker.t(key, box.dataset.arg);
  document.body.setAttribute("data-loaded", "error");
})();
