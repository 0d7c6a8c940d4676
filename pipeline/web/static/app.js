// congvan: small conveniences on top of pages that work without scripting.
(function () {
  "use strict";
  // Bring the first boxed hit into view.
  var box = document.querySelector(".hit-box");
  var frame = document.querySelector(".page-frame");
  var image = document.getElementById("page-image");
  if (box && frame && image) {
    var scroll = function () {
      var svg = box.ownerSVGElement;
      var view = svg.viewBox.baseVal;
      var scale = image.clientHeight / (view.height || 1);
      var y = box.y.baseVal.value * scale;
      frame.scrollTop = Math.max(0, y - frame.clientHeight / 3);
    };
    if (image.complete) { scroll(); } else { image.addEventListener("load", scroll); }
  }
  // ← and → turn pages when no field has the focus.
  document.addEventListener("keydown", function (event) {
    var tag = (event.target && event.target.tagName) || "";
    if (/INPUT|TEXTAREA|SELECT/.test(tag) || event.altKey || event.ctrlKey || event.metaKey) { return; }
    var link = event.key === "ArrowLeft" ? document.getElementById("prev-page")
      : event.key === "ArrowRight" ? document.getElementById("next-page") : null;
    if (link) { window.location.href = link.href; }
  });
})();
