// Fills a form's lon/lat fields from the device's position when the user asks (a button
// marked data-geolocate). Forms work without it: the fields can be typed.
// Browsers report WGS-84, the platform's datum, so no conversion is needed.
document.addEventListener("click", function (event) {
  var button = event.target.closest ? event.target.closest("[data-geolocate]") : null;
  if (!button || !navigator.geolocation) {
    return;
  }
  var form = button.form || button.closest("form");
  if (!form) {
    return;
  }
  var status = form.querySelector("[data-geolocate-status]");
  var say = function (text) {
    if (status) {
      status.textContent = text;
    }
  };
  say("正在获取位置…");
  navigator.geolocation.getCurrentPosition(
    function (pos) {
      form.elements.lon.value = pos.coords.longitude.toFixed(7);
      form.elements.lat.value = pos.coords.latitude.toFixed(7);
      say("已填入当前位置（精度约 " + Math.round(pos.coords.accuracy) + " 米）");
    },
    function () {
      say("无法获取位置，请手工填写或在地图上确认");
    },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
  );
});

// A form that writes is sent once: a second click while the first request is on its way
// (a slow upload of photos, say) would take in the same report twice. The buttons are
// disabled after the submit event, so the clicked button's name and value still go with it.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (event.defaultPrevented || (form.method || "").toLowerCase() !== "post") {
    return;
  }
  if (form.dataset.submitting) {
    event.preventDefault();
    return;
  }
  form.dataset.submitting = "1";
  // Only the buttons disabled here are marked, and only those are enabled again: a button
  // the page itself disabled stays so.
  setTimeout(function () {
    var buttons = form.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]");
    for (var i = 0; i < buttons.length; i++) {
      if (!buttons[i].disabled) {
        buttons[i].disabled = true;
        buttons[i].dataset.sending = "1";
      }
    }
  }, 0);
  // Back in the browser's history the page is shown as it was left: sendable again.
  window.addEventListener("pageshow", function () {
    delete form.dataset.submitting;
    var buttons = form.querySelectorAll("[data-sending]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].disabled = false;
      delete buttons[i].dataset.sending;
    }
  }, { once: true });
});
